"""``format: hf``: classification data through Hugging Face ``datasets`` from local parquet / JSON files."""

import json
import sys

import pytest

from torchperceiver.models.language.sources import TextSource, load_source
from torchperceiver.models.language.tables import LabelledText

ROWS = [("a fine film", "pos"), ("dull", "neg"), ("warm and funny", "pos"), ("a mess", "neg")]


@pytest.fixture
def datasets(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    return datasets


def _class_label_parquet(datasets, path, rows):
    label = datasets.ClassLabel(names=["neg", "pos"])
    features = datasets.Features({"sentence": datasets.Value("string"), "label": label})
    data = {"sentence": [t for t, _ in rows], "label": [["neg", "pos"].index(label) for _, label in rows]}
    datasets.Dataset.from_dict(data, features=features).to_parquet(str(path))


def test_local_json_files_read_like_a_table(datasets, tmp_path):
    for split, rows in (("train", ROWS), ("dev", ROWS[:2])):
        lines = [json.dumps({"review": text, "stars": label}) for text, label in rows]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    files = {"train": str(tmp_path / "train.jsonl"), "eval": str(tmp_path / "dev.jsonl")}
    source = TextSource(format="hf", task="sst", text="review", label="stars", **files)
    loaded = load_source(source)
    assert loaded.classes == ("neg", "pos") and loaded.metrics == ("accuracy",)
    assert loaded.splits["eval"] == [LabelledText("a fine film", None, 1), LabelledText("dull", None, 0)]
    assert len(loaded.splits["train"]) == 4 and "test" not in loaded.splits


def test_a_dataset_directory_gives_class_names_and_the_validation_split(datasets, tmp_path):
    root = tmp_path / "reviews"
    root.mkdir()
    _class_label_parquet(datasets, root / "train.parquet", ROWS)
    _class_label_parquet(datasets, root / "validation.parquet", ROWS[1:])
    loaded = load_source(TextSource(format="hf", path=str(root), text="sentence"))
    assert loaded.classes == ("neg", "pos"), "from the ClassLabel feature"
    assert [row.label for row in loaded.splits["train"]] == [1, 0, 1, 0]
    assert len(loaded.splits["eval"]) == 3, "eval defaults to the validation split"
    with pytest.raises(ValueError, match=r"data\.test: expected a split of .* \['train', 'validation'\], got 'test'"):
        load_source(TextSource(format="hf", path=str(root), text="sentence", test="test"))


def test_bad_rows_and_files_are_one_line_errors(datasets, tmp_path):
    (tmp_path / "train.json").write_text(json.dumps({"text": "ok", "label": "pos"}) + "\n")
    (tmp_path / "eval.json").write_text(json.dumps({"text": "ok", "label": "maybe"}) + "\n")
    source = TextSource(
        format="hf", train=str(tmp_path / "train.json"), eval=str(tmp_path / "eval.json"), labels=["neg", "pos"]
    )
    cases = [
        (source, r"eval\) row 1: expected a label in \['neg', 'pos'\], got 'maybe'"),
        (TextSource(format="hf", train=str(tmp_path / "train.json"), text="body"), r"expected columns \['body'\]"),
        (TextSource(format="hf", train=str(tmp_path / "train.xml")), r"data\.train: expected a \.parquet, "),
        (TextSource(format="hf"), r"data\.train: expected a hub name in data\.path or a local data file"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message) as err:
            load_source(bad)
        assert "\n" not in str(err.value)


def test_without_datasets_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(ValueError, match=r"data\.format: expected the `datasets` package .*torchperceiver\[hf\]"):
        load_source(TextSource(format="hf", train=str(tmp_path / "train.parquet")))
