"""read_rle_csv / write_rle_csv: both header spellings, -1 rows, repeats, errors, atomicity."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rlemask
from rlemask import LabelsFileError

STAGE1 = (
    "ImageId, EncodedPixels\n1.2.3, -1\n1.2.4, 1 2 7 1\n1.2.4, 18 2 9 1\n1.2.5, 0 3\n1.2.5, 0 3\n"
)
STAGE2 = STAGE1.replace(", ", ",")


@pytest.mark.parametrize("text", [STAGE1, STAGE2, STAGE1.replace("\n", "\r\n")])
def test_read_both_spellings(tmp_path, text):
    p = tmp_path / "train-rle.csv"
    p.write_bytes(text.encode())
    labels = rlemask.read_rle_csv(p)
    assert labels == {
        "1.2.3": [],
        "1.2.4": ["1 2 7 1", "18 2 9 1"],
        "1.2.5": ["0 3", "0 3"],  # repeats kept, in order
    }
    assert list(labels) == ["1.2.3", "1.2.4", "1.2.5"]
    assert rlemask.read_rle_csv(str(p)) == labels  # str paths too
    # a union of the rows of one id
    np.testing.assert_array_equal(
        rlemask.merge(labels["1.2.4"], (6, 5)), rlemask.decode("1 2 7 1 7 2 9 1", (6, 5))
    )
    np.testing.assert_array_equal(
        rlemask.merge(labels["1.2.5"], (6, 5)), rlemask.decode("0 3", (6, 5))
    )


def test_read_extra_columns_bom_and_blank_lines(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("\ufeffEncodedPixels,Other,ImageId\n1 2,x,a\n\n-1,y,b\n", encoding="utf-8")
    assert rlemask.read_rle_csv(p) == {"a": ["1 2"], "b": []}


def test_read_empty_value_and_kaggle(tmp_path):
    p = tmp_path / "k.csv"
    p.write_text("ImageId,EncodedPixels\na,\nb,2 2 11 1\n")
    assert rlemask.read_rle_csv(p, format="kaggle") == {"a": [], "b": ["2 2 11 1"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"line 1: empty file"),
        ("Id,EncodedPixels\na,1 2\n", r"line 1: header must name the columns.*missing ImageId"),
        ("ImageId,Pixels\na,1 2\n", r"line 1: .*missing EncodedPixels"),
        ("ImageId,EncodedPixels\na,1 2\nb\n", r"line 3: expected 2 columns, got 1"),
        ("ImageId,EncodedPixels\na,1 2\n,1 2\n", r"line 3: empty ImageId"),
        ("ImageId,EncodedPixels\na,1 2\nb,1 x\n", r"line 3: siim RLE: token 1 \('x'\)"),
        ("ImageId,EncodedPixels\na,1 2\nb,1 2 3\n", r"line 3: siim RLE: odd number of tokens"),
        ('ImageId,EncodedPixels\na,1 2\nb,"1 2\n', r"line \d: unreadable row"),
    ],
)
def test_read_errors_name_file_and_line(tmp_path, text, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(LabelsFileError, match=r"bad\.csv, " + message):
        rlemask.read_rle_csv(p)


def test_read_no_validation_and_missing_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("ImageId,EncodedPixels\na,1 x\n")
    assert rlemask.read_rle_csv(p, validate=False) == {"a": ["1 x"]}
    with pytest.raises(FileNotFoundError):
        rlemask.read_rle_csv(tmp_path / "missing.csv")


def test_write_round_trip(tmp_path):
    mask = rlemask.decode("1 2 7 1 7 2 9 1", (6, 5))
    p = tmp_path / "sub.csv"
    rlemask.write_rle_csv(
        p,
        {
            "a": mask,
            "b": np.zeros((6, 5), bool),
            "c": " 1 2",
            "d": [],
            "e": ["1 2 7 1", "18 2 9 1", "1 2 7 1"],  # unioned into one row
            "f": [np.repeat(mask, 2, axis=1)[:, ::2], np.asfortranarray(mask)],
            "g": None,
        },
        shape=(6, 5),
    )
    assert p.read_text().splitlines() == [
        "ImageId,EncodedPixels",
        "a,1 2 7 1 7 2 9 1",
        "b,-1",
        "c,1 2",
        "d,-1",
        "e,1 2 7 1 7 2 9 1",
        "f,1 2 7 1 7 2 9 1",
        "g,-1",
    ]
    labels = rlemask.read_rle_csv(p)
    assert labels["a"] == ["1 2 7 1 7 2 9 1"] and labels["b"] == []


def test_write_kaggle_empty_is_blank(tmp_path):
    p = tmp_path / "k.csv"
    rlemask.write_rle_csv(
        p, {"a": np.zeros((2, 2), np.uint8), "b": np.eye(2, dtype=int)}, format="kaggle"
    )
    assert p.read_text() == "ImageId,EncodedPixels\na,\nb,1 1 4 1\n"


def test_write_rejects_bad_values(tmp_path):
    p = tmp_path / "x.csv"
    with pytest.raises(TypeError, match=r"masks\['a'\] must be a 2-D mask array.*Received: int"):
        rlemask.write_rle_csv(p, {"a": 3})
    with pytest.raises(ValueError, match="needs a text format"):
        rlemask.write_rle_csv(p, {"a": "1 2"}, format="coco")
    with pytest.raises(rlemask.RLEError, match="token 1"):
        rlemask.write_rle_csv(p, {"a": ["1 2", "1 x"]})
    with pytest.raises(ValueError, match=r"masks\['a'\]: masks of different shapes"):
        rlemask.write_rle_csv(p, {"a": [np.zeros((2, 2)), np.zeros((2, 3))]})
    assert not p.exists()  # nothing written when a value is bad


def test_write_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "sub.csv"
    p.write_text("original\n")
    import csv

    real_writer = csv.writer

    class CrashingWriter:
        def __init__(self, handle, **kwargs):
            self.inner = real_writer(handle, **kwargs)

        def writerow(self, row):
            self.inner.writerow(row)

        def writerows(self, rows):
            self.inner.writerow(next(iter(rows)))
            raise KeyboardInterrupt("simulated crash mid-write")

    monkeypatch.setattr(csv, "writer", CrashingWriter)
    with pytest.raises(KeyboardInterrupt):
        rlemask.write_rle_csv(p, {"a": "1 2", "b": "3 4"})
    assert p.read_text() == "original\n"
    assert os.listdir(tmp_path) == ["sub.csv"]  # no temporary file left


def test_read_stray_quote_names_line(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('ImageId,EncodedPixels\na,1 2\nb,"1 2"x\nc,1 2\n')
    with pytest.raises(LabelsFileError, match=r"q\.csv, line 3: unreadable row"):
        rlemask.read_rle_csv(p)
