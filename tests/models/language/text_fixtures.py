# ruff: noqa: E501  (fixture rows are kept one per line, as in the real files)
"""Small files in the real formats for the language tests: GLUE TSVs, tables, fortune packages."""

from __future__ import annotations

from pathlib import Path

SMALL_MODEL = {
    "num_latents": 4,
    "latent_dim": 16,
    "num_layers": 1,
    "num_self_heads": 2,
    "num_cross_heads": 2,
    "qk_channels": 8,
    "embed_dim": 8,
    "max_seq_len": 48,
}

# Standard GLUE layouts (glue_data/<Task>/train.tsv, dev.tsv), a handful of rows each.
GLUE_FILES = {
    "CoLA": (
        None,
        [["gj04", "1", "", "The sailors rode the breeze clear of the rocks."],
         ["gj04", "0", "*", "The more we study verbs, the crazier they get get."],
         ["clc95", "1", "", "Fred watered the plants flat."],
         ["clc95", "0", "*", "Him ate the apple."]],
    ),
    "SST-2": (["sentence", "label"], [["a gorgeous film ", "1"], ["dull and lifeless ", "0"], ["warm , funny", "1"], ["a mess", "0"]]),
    "MRPC": (
        ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        [["1", "1", "2", "He said so.", "So he said."], ["0", "3", "4", "The cat sat.", "Stocks fell 3%."],
         ["1", "5", "6", "It rained today.", "Today it rained."], ["0", "7", "8", "A \"quoted\" word.", "Unrelated text."]],
    ),
    "STS-B": (
        ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"],
        [["0", "main-captions", "MSRvid", "2012test", "0001", "none", "none", "A plane is taking off.", "An air plane is taking off.", "5.000"],
         ["1", "main-captions", "MSRvid", "2012test", "0004", "none", "none", "A man plays a flute.", "A man plays a guitar.", "1.600"],
         ["2", "main-captions", "MSRvid", "2012test", "0005", "none", "none", "A dog runs.", "A cat sleeps.", "0.200"],
         ["3", "main-captions", "MSRvid", "2012test", "0006", "none", "none", "A woman slices onions.", "A woman is cutting onions.", "4.200"]],
    ),
    "QQP": (
        ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
        [["0", "1", "2", "How do I learn Python?", "What is the best way to learn Python?", "1"],
         ["1", "3", "4", "Why is the sky blue?", "How tall is Everest?", "0"],
         ["2", "5", "6", "What is AI?", "What is artificial intelligence?", "1"],
         ["3", "7", "8", "Where is Paris?", "Who wrote Hamlet?", "0"]],
    ),
    "MNLI": (
        ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
         "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"],
        [["0", "1", "1e", "gov", "( x )", "( y )", "(ROOT x)", "(ROOT y)", "A man eats.", "Someone eats.", "entailment", "entailment"],
         ["1", "2", "2c", "gov", "( x )", "( y )", "(ROOT x)", "(ROOT y)", "A man eats.", "Nobody eats.", "contradiction", "contradiction"],
         ["2", "3", "3n", "fiction", "( x )", "( y )", "(ROOT x)", "(ROOT y)", "A man eats.", "A man eats soup.", "neutral", "neutral"],
         ["3", "4", "4e", "fiction", "( x )", "( y )", "(ROOT x)", "(ROOT y)", "Two dogs run.", "Dogs run.", "entailment", "entailment"]],
    ),
    "QNLI": (
        ["index", "question", "sentence", "label"],
        [["0", "What runs?", "The dog runs.", "entailment"], ["1", "Who sings?", "The sky is blue.", "not_entailment"],
         ["2", "What flies?", "Birds fly.", "entailment"], ["3", "Who cooks?", "Rocks are hard.", "not_entailment"]],
    ),
    "RTE": (
        ["index", "sentence1", "sentence2", "label"],
        [["0", "Paris is in France.", "France has Paris.", "entailment"], ["1", "Cats meow.", "Dogs fly.", "not_entailment"],
         ["2", "It is cold.", "It is not warm.", "entailment"], ["3", "He left.", "She arrived.", "not_entailment"]],
    ),
}  # fmt: skip


def write_glue(root: Path) -> Path:
    """``root/<Task>/{train,dev}.tsv`` (MNLI: ``dev_matched.tsv`` and ``dev_mismatched.tsv``) for all eight tasks."""
    for folder, (header, rows) in GLUE_FILES.items():
        lines = (["\t".join(header)] if header else []) + ["\t".join(row) for row in rows]
        (root / folder).mkdir(parents=True, exist_ok=True)
        text = "\n".join(lines) + "\n"
        for name in (
            ("train.tsv", "dev_matched.tsv", "dev_mismatched.tsv") if folder == "MNLI" else ("train.tsv", "dev.tsv")
        ):
            (root / folder / name).write_text(text)
    return root


FORTUNES = {
    "computers": [
        "Never trust a computer you can't throw out a window.",
        "The computer is down again.",
        "Debugging is twice as hard as writing the code.",
        "There are 10 kinds of people.",
    ],
    "food": [
        "Eat dessert first; life is uncertain.",
        "An apple a day keeps the doctor away.",
        "Never eat more than you can lift.",
        "Bread is the staff of life.",
    ],
    "de/sprueche": ["Wer zuletzt lacht, denkt zu langsam.", "Der Klügere gibt nach.", "Ende gut, alles gut."],
    "es/refranes": ["Más vale tarde que nunca.", "No hay mal que por bien no venga."],
    "brasil": ["Quem não arrisca não petisca.", "Devagar se vai ao longe."],
}


def write_fortunes(root: Path, skip: tuple[str, ...] = ()) -> Path:
    """A fortunes tree in Debian's layout (``%`` lines between quotations, ``.dat`` index files beside)."""
    for name, quotes in FORTUNES.items():
        if name in skip:
            continue
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n%\n".join(quotes) + "\n%\n")
        (root / f"{name}.dat").write_bytes(b"\x00\x00\x00\x02binary index")
    return root
