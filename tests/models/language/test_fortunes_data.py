"""Fortune files: Debian's layout, the fixed split by quotation, deduplication, the missing-package error."""

import pytest

from models.language.text_fixtures import FORTUNES, write_fortunes
from torchperceiver.models.language.fortunes import (
    APT_PACKAGES,
    fortune_splits,
    labelled_quotes,
    read_fortune_file,
    split_of,
)


def test_entries_split_on_percent_lines(tmp_path):
    path = tmp_path / "food"
    path.write_text("First line\n  second line\n%\nSecond quote\n%\n\n%\nThird 50% off\n")
    assert read_fortune_file(path) == ["First line second line", "Second quote", "Third 50% off"]


def test_language_classes_from_folders_topics_and_brasil(tmp_path):
    root = write_fortunes(tmp_path)
    (root / "de" / "sprueche.u8").symlink_to(root / "de" / "sprueche")  # Debian's .u8 links are not read twice
    (root / "es" / "off").mkdir()
    (root / "es" / "off" / "rude").write_text("No.\n%\n")
    quotes = labelled_quotes("language", root, min_topic_quotes=1) if (root / "cs").exists() else None
    assert quotes is None  # cs, eo, it, pl, ru are missing here: see the error test
    for lang in ("cs", "eo", "it", "pl", "ru"):
        (root / lang).mkdir()
        (root / lang / "one").write_text(f"Quote in {lang}\n%\n")
    quotes = labelled_quotes("language", root)
    assert list(quotes) == ["cs", "de", "en", "eo", "es", "it", "pl", "pt", "ru"]
    assert len(quotes["en"]) == 8 and len(quotes["de"]) == 3 and quotes["pt"] == sorted(FORTUNES["brasil"])
    assert "No." not in quotes["es"], "offensive subfolders are not read"


def test_topics_drop_duplicates_across_topics(tmp_path):
    root = write_fortunes(tmp_path)
    with (root / "food").open("a") as f:
        f.write("The computer is down again.\n%\n")
    quotes = labelled_quotes("topic", root, min_topic_quotes=1)
    assert list(quotes) == ["computers", "food"]
    assert "The computer is down again." not in quotes["computers"] + quotes["food"]
    with pytest.raises(ValueError, match=r"expected at least 2 topic classes .* got \['food'\]"):
        labelled_quotes("topic", root, min_topic_quotes=4)  # computers keeps 3 quotations: left out


def test_split_is_fixed_by_quotation(tmp_path):
    root = write_fortunes(tmp_path)
    for lang in ("cs", "eo", "it", "pl", "ru"):
        (root / lang).mkdir()
        (root / lang / "one").write_text("\n%\n".join(f"{lang} saying number {i}" for i in range(30)))
    names, splits = fortune_splits("language", root)
    assert sum(map(len, splits.values())) == 8 + 3 + 2 + 2 + 5 * 30
    for split, rows in splits.items():
        assert all(split_of(row.text) == split for row in rows)
    assert split_of("Der Klügere gibt nach.") == split_of("Der Klügere gibt nach.")
    again_names, again = fortune_splits("language", root)
    assert again_names == names and again == splits


def test_missing_packages_name_the_apt_packages(tmp_path):
    root = write_fortunes(tmp_path)
    with pytest.raises(ValueError) as err:
        labelled_quotes("language", root)
    message = str(err.value)
    assert "expected the fortune files of ['cs', 'eo', 'it', 'pl', 'ru']" in message
    assert f"apt-get install {APT_PACKAGES}" in message and "\n" not in message
    with pytest.raises(ValueError, match=r"English topic files .* apt-get install fortunes\)"):
        labelled_quotes("topic", tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"data\.task: expected one of \['language', 'topic'\]"):
        labelled_quotes("mood", root)
