"""CSV / TSV / JSONL readers, GLUE layouts, pair encoding and bad-row errors."""

import json

import pytest

from models.language.text_fixtures import write_glue
from torchperceiver.models.language.examples import encode_text
from torchperceiver.models.language.glue import GLUE, read_glue
from torchperceiver.models.language.sources import TextSource, load_source
from torchperceiver.models.language.tables import Columns, LabelledText, read_labelled
from torchperceiver.tokenizer import BYTE_OFFSET, SEP


def _table(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_tsv_jsonl_read_the_same_rows(tmp_path):
    csv = _table(tmp_path, "a.csv", 'text,pair,label\n"Hello, world",hi,pos\nbye,"say ""no""",neg\n')
    tsv = _table(tmp_path, "a.tsv", 'text\tpair\tlabel\nHello, world\thi\tpos\nbye\tsay "no"\tneg\n')
    records = [
        {"text": "Hello, world", "pair": "hi", "label": "pos"},
        {"text": "bye", "pair": 'say "no"', "label": "neg"},
    ]
    jsonl = _table(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in records))
    columns = Columns("text", "label", "pair")
    expected = [LabelledText("Hello, world", "hi", 1), LabelledText("bye", 'say "no"', 0)]
    for path in (csv, tsv, jsonl):
        assert read_labelled(path, columns, ["neg", "pos"]) == expected


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("miss.csv", "text,label\nok,pos\nonly\n", "miss.csv line 3: expected a column 'label'"),
        ("lab.tsv", "text\tlabel\nok\tpos\nfine\tmaybe\n", "lab.tsv line 3: expected a label in ['neg', 'pos']"),
        ("col.jsonl", '{"text": "a", "label": "pos"}\n{"body": "b", "label": "neg"}\n', "col.jsonl line 2: expected"),
        ("bad.jsonl", '{"text": "a", "label": "pos"}\n{oops\n', "bad.jsonl line 2: expected a JSON object"),
        ("empty.csv", "text,label\n  ,pos\n", "empty.csv line 2: expected a text in column 'text'"),
        ("x.xml", "<a/>", "expected a .csv, .tsv or .jsonl file"),
    ],
)  # fmt: skip
def test_bad_rows_name_the_file_and_line(tmp_path, name, text, message):
    path = _table(tmp_path, name, text)
    with pytest.raises(ValueError) as err:
        read_labelled(path, Columns("text", "label"), ["neg", "pos"])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_pair_is_joined_with_sep_and_the_longer_text_is_cut_first():
    ids = encode_text("ab", "c", 8)
    assert ids == [ord("a") + BYTE_OFFSET, ord("b") + BYTE_OFFSET, SEP, ord("c") + BYTE_OFFSET]
    cut = encode_text("x" * 20, "yy", 8)
    assert len(cut) == 8 and cut[-3:] == [SEP, ord("y") + BYTE_OFFSET, ord("y") + BYTE_OFFSET]
    both = encode_text("x" * 20, "y" * 20, 9)
    assert both.count(SEP) == 1 and len(both) == 9 and both.index(SEP) == 4


def test_every_glue_task_reads_its_standard_files(tmp_path):
    root = write_glue(tmp_path)
    for task, layout in GLUE.items():
        rows = read_glue(root, task, "train")
        assert len(rows) == 4, task
        assert (rows[0].text_pair is None) == (layout.columns.text_pair is None)
        assert read_glue(root / layout.folder, task, "eval") == rows  # the task folder itself works too
    assert read_glue(root, "stsb", "train")[0].label == 5.0
    assert [r.label for r in read_glue(root, "mnli", "train")] == [1, 0, 2, 1]
    assert read_glue(root, "mrpc", "train")[3].text == 'A "quoted" word.', "TSV quotes are text, not quoting"
    assert [r.label for r in read_glue(root, "cola", "train")] == [1, 0, 1, 0]


def test_glue_errors(tmp_path):
    with pytest.raises(ValueError, match=r"data\.task: expected a GLUE task in \["):
        read_glue(tmp_path, "wnli2", "train")
    with pytest.raises(ValueError, match=r"data\.path: expected train\.tsv of GLUE RTE"):
        read_glue(tmp_path, "rte", "train")


def test_table_source_classes_metrics_and_subsample(tmp_path):
    train = _table(tmp_path, "t.csv", "text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(10)))
    source = load_source(TextSource(format="table", task="mine", train=str(train), max_train_examples=4))
    assert source.classes == ("a", "b") and source.metrics == ("accuracy",) and len(source.splits["train"]) == 4
    reg = load_source(
        TextSource(format="table", train=str(_table(tmp_path, "r.csv", "text,label\nx,0.5\ny,2\n")), regression=True)
    )
    assert reg.classes is None and reg.metrics == ("pearson", "spearman") and reg.num_outputs == 1
    with pytest.raises(ValueError, match=r"data\.metrics: expected metrics among \['accuracy', 'f1', 'matthews'\]"):
        load_source(TextSource(format="table", train=str(train), metrics=["pearson"]))
    with pytest.raises(ValueError, match=r"data\.train: expected a CSV, TSV or JSONL file"):
        load_source(TextSource(format="table"))
