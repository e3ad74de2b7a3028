"""Fortune cookies as a labelled corpus: the language of a quotation (9 classes) and the topic of an English one.

Debian's ``fortunes*`` packages install plain-text files under ``/usr/share/games/fortunes/``: one
quotation after another, separated by a line holding ``%``. English comes in topic files (``computers``,
``food``, ``law``, …: the ``fortunes`` package's own list, below, since the top level also links some
Italian files), the other languages in a folder each (``de``, ``es``, ``it``, ``ru``, ``pl``, ``cs``, ``eo``;
the offensive ``off/`` subfolders are not read), Portuguese in the single file ``brasil``.

The split is fixed and by quotation: whitespace-normalised texts are deduplicated (a quotation filed under
two topics is dropped from the topic task: its label is ambiguous), then SHA-1 of the normalised text picks
the split — bucket 0 of 10 is ``test``, bucket 1 ``eval``, the rest ``train`` — so it does not depend on
file order or on the package version beyond the quotations themselves. Within a split the examples are
ordered by the same digest (the classes interleaved), so a prefix of a split is a fair sample.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from torchperceiver.models.language.tables import LabelledText

FORTUNES_ROOT = "/usr/share/games/fortunes"
APT_PACKAGES = (
    "fortunes fortunes-de fortunes-es fortunes-it fortunes-ru fortunes-pl fortunes-cs fortunes-br fortunes-eo"
)
#: The English topic files of Debian's ``fortunes`` package (``dpkg -L fortunes``).
ENGLISH_TOPICS = (
    "art", "ascii-art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education",
    "ethnic", "food", "goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie", "love", "magic",
    "medicine", "men-women", "miscellaneous", "news", "paradoxum", "people", "perl", "pets", "platitudes",
    "politics", "pratchett", "science", "songs-poems", "sports", "startrek", "tao", "translate-me", "wisdom",
    "work", "zippy",
)  # fmt: skip
#: Language code → folder (or file, for Portuguese) under the root; English is the topic files.
LANGUAGE_SOURCES = {
    "cs": "cs", "de": "de", "eo": "eo", "es": "es", "it": "it", "pl": "pl", "pt": "brasil", "ru": "ru",
}  # fmt: skip
#: Files of a language folder that hold another language (Slovak classics in the Czech package).
_OTHER_LANGUAGE = frozenset({"klasik-sk"})
TASKS = ("language", "topic")
SPLITS = ("train", "eval", "test")
#: Topics with fewer quotations than this (after deduplication) are left out of the topic task.
MIN_TOPIC_QUOTES = 100


def _digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def split_of(text: str) -> str:
    bucket = _digest(text)[0] % 10
    return "test" if bucket == 0 else "eval" if bucket == 1 else "train"


def normalise(quote: str) -> str:
    return " ".join(quote.split())


def read_fortune_file(path: Path) -> list[str]:
    """The quotations of one file (split on lines holding only ``%``), whitespace-normalised, non-empty."""
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
    return [q for q in (normalise(part) for part in ("\n" + text + "\n").split("\n%\n")) if q]


def _language_files(root: Path, language: str) -> list[Path]:
    if language == "en":
        return [root / name for name in ENGLISH_TOPICS if (root / name).is_file()]
    source = root / LANGUAGE_SOURCES[language]
    if source.is_file():
        return [source]
    if not source.is_dir():
        return []
    return sorted(
        f
        for f in source.iterdir()
        if f.is_file() and not f.is_symlink() and f.suffix not in (".dat", ".u8") and f.name not in _OTHER_LANGUAGE
    )


def labelled_quotes(
    task: str, root: str | Path = FORTUNES_ROOT, min_topic_quotes: int = MIN_TOPIC_QUOTES
) -> dict[str, list[str]]:
    """Class name → its deduplicated quotations (sorted), for ``task`` ``language`` or ``topic``."""
    if task not in TASKS:
        raise ValueError(f"data.task: expected one of {list(TASKS)} for fortunes, got {task!r}")
    root = Path(root).expanduser()
    groups = {lang: _language_files(root, lang) for lang in ["en", *LANGUAGE_SOURCES]}
    if task == "topic":
        if not groups["en"]:
            raise ValueError(
                f"data.path: expected the English topic files under {str(root)!r}, found none "
                "(install them: apt-get install fortunes)"
            )
        groups = {f.name: [f] for f in groups["en"]}
    missing = sorted(name for name, files in groups.items() if not files)
    if missing:
        raise ValueError(
            f"data.path: expected the fortune files of {missing} under {str(root)!r}, found none "
            f"(install them: apt-get install {APT_PACKAGES})"
        )
    owner: dict[str, str] = {}
    ambiguous: set[str] = set()
    for name, files in groups.items():
        for file in files:
            for quote in read_fortune_file(file):
                if owner.setdefault(quote, name) != name:
                    ambiguous.add(quote)
    classes: dict[str, list[str]] = defaultdict(list)
    for quote, name in owner.items():
        if quote not in ambiguous:
            classes[name].append(quote)
    if task == "topic":
        classes = defaultdict(list, {k: v for k, v in classes.items() if len(v) >= min_topic_quotes})
    if len(classes) < 2:
        raise ValueError(f"data.path: expected at least 2 {task} classes under {str(root)!r}, got {sorted(classes)}")
    return {name: sorted(classes[name]) for name in sorted(classes)}


def fortune_splits(
    task: str, root: str | Path = FORTUNES_ROOT, min_topic_quotes: int = MIN_TOPIC_QUOTES
) -> tuple[tuple[str, ...], dict[str, list[LabelledText]]]:
    """``(class names, split → examples)`` with the fixed hash split described above."""
    quotes = labelled_quotes(task, root, min_topic_quotes)
    names = tuple(quotes)
    splits: dict[str, list[LabelledText]] = {split: [] for split in SPLITS}
    for label, name in enumerate(names):
        for quote in quotes[name]:
            splits[split_of(quote)].append(LabelledText(quote, None, label))
    for rows in splits.values():  # classes interleaved, in a fixed order: any prefix is a fair sample
        rows.sort(key=lambda row: _digest(row.text))
    return names, splits
