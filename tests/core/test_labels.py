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
        ("Key,EncodedPixels\na,1 2\n", r"line 1: the header must name an id and an RLE "
                                         r"column; no id column in \['Key', 'EncodedPixels'\]"),
        ("ImageId,Pixels\na,1 2\n", r"line 1: .*no rle column"),
        ("ImageId,EncodedPixels\na,1 2\nb\n", r"line 3: expected 2 columns, got 1"),
        ("ImageId,EncodedPixels\na,1 2\n,1 2\n", r"line 3: empty id"),
        ("ImageId,EncodedPixels\na,1 2\nb,1 x\n", r"line 3\b.*token 1 \('x'\) is not an int"),
        ("ImageId,EncodedPixels\na,1 2\nb,1 2 3\n", r"line 3\b.*odd number of tokens"),
        ('ImageId,EncodedPixels\na,1 2\nb,"1 2\n', r"line \d: unreadable row"),
    ],
)
@pytest.mark.parametrize("reader", ["read_rle_csv", "convert_rows"])
def test_read_errors_name_file_and_line(tmp_path, text, message, reader):
    # rlemask convert once had its own CSV reader, with other messages and no strict quoting
    from rlemask.cli.convert import convert_rows

    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(LabelsFileError, match=r"bad\.csv, " + message):
        if reader == "read_rle_csv":
            rlemask.read_rle_csv(p)
        else:
            convert_rows(p, from_format="siim", to_format="kaggle", shape=(6, 5))


def test_rle_rows_yields_the_text_as_written(tmp_path):
    from rlemask.cli.convert import convert_rows
    from rlemask.labels import rle_rows

    p = tmp_path / "rows.csv"
    p.write_text("Other, EncodedPixels, ImageId\nx, -1, a\n\nx,1 2 ,b\n")
    assert list(rle_rows(p)) == [(2, "a", "-1"), (4, "b", "1 2")]
    assert convert_rows(p, from_format="siim", to_format="kaggle", shape=(6, 5)) == [
        ("a", ""),
        ("b", "2 2"),
    ]


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
    with pytest.raises(TypeError, match=r"masks\['a'\] must be a 2-D mask array.*received int"):
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


def test_a_noisy_1024_row_over_the_csv_field_limit_reads_back(tmp_path):
    import csv

    rng = np.random.default_rng(1234)
    noisy = rng.random((1024, 1024)) < 0.5
    p = tmp_path / "sub.csv"
    rlemask.write_rle_csv(p, {"noisy": noisy, "empty": None})
    text = rlemask.encode(noisy)
    assert len(text) > 131_072  # over Python's default csv field limit
    before = csv.field_size_limit()
    labels = rlemask.read_rle_csv(p)
    assert csv.field_size_limit() == before  # the process-wide limit is put back
    assert labels == {"noisy": [text], "empty": []}
    np.testing.assert_array_equal(rlemask.decode(labels["noisy"][0]), noisy)
    report = rlemask.evaluate(p, p)
    assert report.mean_dice == 1.0 and report.n_positive == 1


def test_a_half_read_rle_rows_iterator_does_not_hold_the_raised_field_limit(tmp_path):
    import csv

    from rlemask.labels import rle_rows

    p = tmp_path / "big.csv"
    p.write_text("ImageId,EncodedPixels\na," + "1 2 " * 40_000 + "\nb,-1\n")
    before = csv.field_size_limit()
    rows = rle_rows(p)
    assert next(rows)[:2] == (2, "a")  # a 160,000-char field: parsed under the raised limit
    assert csv.field_size_limit() == before  # other CSV readers meanwhile keep the default
    assert [r[:2] for r in rows] == [(3, "b")]
    assert csv.field_size_limit() == before


def test_frames_are_labels(tmp_path):
    pd = pytest.importorskip("pandas")
    stage1 = tmp_path / "train-rle.csv"
    stage1.write_text(STAGE1)
    frame = pd.read_csv(stage1)  # stage-1 header: the column is " EncodedPixels"
    assert " EncodedPixels" in frame.columns
    expected = rlemask.read_rle_csv(stage1)
    assert rlemask.labels_from_frame(frame) == expected
    # pandas reads an all "-1" column as the number -1; NaN cells are empty too
    numbers = pd.DataFrame({"ImageId": ["a", "b"], "EncodedPixels": [-1, -1]})
    assert rlemask.labels_from_frame(numbers) == {"a": [], "b": []}
    nan = pd.DataFrame({"ImageId": ["a", "b"], "EncodedPixels": [np.nan, "1 2"]})
    assert rlemask.labels_from_frame(nan) == {"a": [], "b": ["1 2"]}
    # write_rle_csv takes a frame of RLE text; several rows of an id are unioned
    out = tmp_path / "out.csv"
    rlemask.write_rle_csv(out, frame, shape=(6, 5))
    expected = {"1.2.3": [], "1.2.4": ["1 2 7 1 7 2 9 1"], "1.2.5": ["0 3"]}
    assert rlemask.read_rle_csv(out) == expected


def test_frame_errors_name_the_problem():
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"`frame` must have the columns .*missing EncodedPixels"):
        rlemask.labels_from_frame(pd.DataFrame({"ImageId": ["a"], "Pixels": ["1 2"]}))
    bad = pd.DataFrame({"ImageId": ["a", "b"], "EncodedPixels": ["1 2", "1 x"]})
    with pytest.raises(rlemask.RLEError, match=r"`frame`, row 1 \(ImageId 'b'\): siim RLE: tok"):
        rlemask.labels_from_frame(bad)
    with pytest.raises(ValueError, match=r"row 0: empty ImageId"):
        rlemask.labels_from_frame(pd.DataFrame({"ImageId": [None], "EncodedPixels": ["1 2"]}))
    mixed = pd.DataFrame({"ImageId": [1, "1"], "EncodedPixels": ["1 2", "-1"]})
    with pytest.raises(ValueError, match=r"two ids that are both '1' as text: 1 and '1'"):
        rlemask.labels_from_frame(mixed)


def test_frame_like_objects_are_read_without_pandas(tmp_path):
    class Column(list):
        pass

    class Frame:  # duck-typed: what labels_from_frame reads from a frame
        columns = ["ImageId", "EncodedPixels"]

        def __getitem__(self, key):
            return Column({"ImageId": ["a", "a"], "EncodedPixels": ["0 1", "-1"]}[key])

    assert rlemask.labels_from_frame(Frame()) == {"a": ["0 1"]}

    class Broken(Frame):
        def __getitem__(self, key):
            raise KeyError(key)

    with pytest.raises(TypeError, match=r"pip install \"rlemask\[pandas\]\""):
        rlemask.write_rle_csv(tmp_path / "unused.csv", Broken())
    assert not (tmp_path / "unused.csv").exists()


def test_colliding_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"`masks` has two ids that are both '1' as text"):
        rlemask.write_rle_csv(tmp_path / "x.csv", {1: "-1", "1": "0 1"})
    assert not (tmp_path / "x.csv").exists()
    rlemask.write_rle_csv(tmp_path / "y.csv", {np.int64(1): "-1", 2: "0 1"})
    assert rlemask.read_rle_csv(tmp_path / "y.csv") == {"1": [], "2": ["0 1"]}


@pytest.mark.parametrize("nan", [float("nan"), np.float32("nan"), np.float64("nan"), None])
def test_nan_is_an_empty_mask_in_files(tmp_path, nan):
    p = tmp_path / "sub.csv"
    rlemask.write_rle_csv(p, {"a": nan, "b": [nan, "0 1"]}, shape=(2, 2))
    assert p.read_text() == "ImageId,EncodedPixels\na,-1\nb,0 1\n"


# -- issue 20: read_rle_csv reads the header variants of the field -------------------


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff1.2.3, -1\n1.2.4, 1 2 7 1\n",  # SIIM's own sample: no header, a BOM
        "\ufefffname,mask\n1.2.3,-1\n1.2.4,1 2 7 1\n",  # its public copy
        "id,predicted\r\n1.2.3,-1\r\n1.2.4,1 2 7 1\r\n",  # HuBMAP's spelling, CRLF
    ],
)
def test_read_rle_csv_header_variants(tmp_path, text):
    p = tmp_path / "l.csv"
    p.write_bytes(text.encode())
    assert rlemask.read_rle_csv(p) == {"1.2.3": [], "1.2.4": ["1 2 7 1"]}
    from rlemask.labels import rle_rows

    assert [r[1:] for r in rle_rows(p)] == [("1.2.3", "-1"), ("1.2.4", "1 2 7 1")]


def test_read_rle_csv_wide_ids_and_class_columns(tmp_path):
    wide = tmp_path / "w.csv"
    wide.write_text("ImageId_ClassId,EncodedPixels\na.jpg_1,1 2\na.jpg_2,\n")
    assert rlemask.read_rle_csv(wide, format="kaggle") == {"a.jpg_1": ["1 2"], "a.jpg_2": []}
    long = tmp_path / "l.csv"  # other columns are ignored (the contract), a class with a warning
    long.write_text("ImageId,ClassId,EncodedPixels\na,3,1 2\na,1,5 1\n")
    with pytest.warns(UserWarning, match=r"the class column 'ClassId' is ignored.*read_labels"):
        assert rlemask.read_rle_csv(long, format="kaggle") == {"a": ["1 2", "5 1"]}


def test_read_rle_csv_real_files_match_pandas(real_dir):
    pd = pytest.importorskip("pandas")
    for name in ("siim/train-rle.stage1.csv.gz", "siim/train-rle-sample.jonnoftw.csv"):
        got = rlemask.read_rle_csv(real_dir / name)
        frame = pd.read_csv(real_dir / name, skipinitialspace=True, encoding="utf-8-sig")
        want: dict = {}
        for image_id, rle in zip(frame.iloc[:, 0], frame.iloc[:, 1].astype(str), strict=True):
            want.setdefault(image_id.strip(), [])
            if rle.strip() != "-1":
                want[image_id.strip()].append(rle.strip())
        assert got == want


# -- issue 19 item 7: write_rle_csv refuses what read_rle_csv would not give back ---------


@pytest.mark.parametrize(
    ("masks", "error", "message"),
    [  # the reproduction's cases (../shared/repro/2026-12-03/write_csv_not_readable.py)
        ({"a": "1 2 3"}, rlemask.RLEError, r"masks\['a'\]: siim RLE: odd number of tokens"),
        ({"a": "garbage"}, rlemask.RLEError, r"masks\['a'\]: siim RLE: token 0 \('garbage'\)"),
        ({"cr\rid": "1 2", "b": "-1"}, ValueError, r"id 'cr\\rid' holds a line break"),
        ({"": "1 2"}, ValueError, "`masks` has an empty id"),
        ({"  ": "1 2"}, ValueError, "`masks` has an empty id"),
        ({"a": "1 2", " a": "5 1"}, ValueError, r"id ' a' has surrounding spaces"),
    ],
)
def test_write_refuses_what_the_reader_would_not_give_back(tmp_path, masks, error, message):
    p = tmp_path / "sub.csv"
    with pytest.raises(error, match=message):
        rlemask.write_rle_csv(p, masks)
    assert not p.exists()


def test_written_text_is_checked_against_the_format(tmp_path):
    p = tmp_path / "sub.csv"
    with pytest.raises(rlemask.RLEError, match="go backwards or overlap"):
        rlemask.write_rle_csv(p, {"a": "5 1 1 1"}, format="kaggle")
    with pytest.raises(rlemask.RLEError, match=r"masks\['a'\]: .*past the last pixel"):
        rlemask.write_rle_csv(p, {"a": "1 2 30 4"}, shape=(4, 4))
    rlemask.write_rle_csv(p, {"a": "1 2 7 1", "b": "-", "c": ""}, format="kaggle")
    assert rlemask.read_rle_csv(p, format="kaggle") == {"a": ["1 2 7 1"], "b": [], "c": []}


# -- issue 19 item 11: pandas' nullable strings (<NA>) are empty masks ---------------


@pytest.mark.parametrize("kw", [{}, {"dtype": "string"}, {"dtype_backend": "numpy_nullable"}])
def test_frames_with_nullable_strings(tmp_path, kw):
    pd = pytest.importorskip("pandas")
    p = tmp_path / "kaggle.csv"  # the reproduction (pandas_na_refused.py)
    rlemask.write_rle_csv(p, {"a": "1 2", "b": None}, format="kaggle")
    frame = pd.read_csv(p, **kw)
    assert rlemask.labels_from_frame(frame, format="kaggle") == {"a": ["1 2"], "b": []}
    report = rlemask.evaluate(frame, {"a": ["1 2"], "b": []}, shape=(4, 4), format="kaggle")
    assert report.mean_dice == 1.0
    labels = rlemask.read_labels(frame, format="kaggle")
    assert labels.rles("b") == [] and labels.mask("a", shape=(4, 4)).sum() == 2
    with pytest.raises(ValueError, match=r"row 1: empty ImageId"):
        rlemask.labels_from_frame(pd.DataFrame({"ImageId": pd.array(["a", pd.NA], "string"),
                                                "EncodedPixels": ["1 2", "1 2"]}))


def test_frames_use_the_header_aliases():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": ["a", "b"], "predicted": ["1 2", ""]})
    assert rlemask.labels_from_frame(frame, format="kaggle") == {"a": ["1 2"], "b": []}
