"""read_labels / Labels: layouts, header aliases, empty tokens, conventions, errors, frames.

Masks are compared with the slow references of ``reference_rle`` (written
from FORMATS.md), never with the project's own decoder.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference_rle as ref

import rlemask
from rlemask import LabelsFileError, RLEError


def ref_mask(texts, shape, fmt):
    """The union of ``texts`` decoded by the references."""
    out = np.zeros(shape, np.uint8)
    for text in texts:
        if text.strip() in ("", "-1", "-"):
            continue
        dec = ref.siim_decode if fmt == "siim" else ref.kaggle_decode
        out |= dec(text, shape)
    return out


def write(tmp_path, text, name="labels.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


# -- layouts -----------------------------------------------------------------

SINGLE = "ImageId,EncodedPixels\na,1 2 6 1\nb,\na,10 2\nc,3 1 9 2\n"


def test_single_layout_keeps_rows_and_unions(tmp_path):
    labels = rlemask.read_labels(write(tmp_path, SINGLE), shape=(4, 3))
    assert labels.layout == "single" and labels.classes == () and labels.format == "kaggle"
    assert labels.ids == ("a", "b", "c") and labels.n_rows == 4
    assert labels.rles("a") == ["1 2 6 1", "10 2"] and labels.rles("b") == []
    np.testing.assert_array_equal(
        labels.mask("a"), ref_mask(["1 2 6 1", "10 2"], (4, 3), "kaggle")
    )
    assert labels.masks("a").shape == (1, 4, 3)
    objects = labels.objects("a")
    assert [o.to_mask().sum() for o in objects] == [3, 2]
    np.testing.assert_array_equal(objects[1].to_mask(), ref_mask(["10 2"], (4, 3), "kaggle"))
    assert labels.mask("b").sum() == 0 and labels.objects("b") == []
    frame = labels.to_frame()
    assert list(frame.columns) == ["image_id", "class", "rle"]
    assert frame["rle"].tolist() == ["1 2 6 1", "", "10 2", "3 1 9 2"]


def test_long_layout_classes_in_first_seen_order(tmp_path):
    text = ("id,class,predicted\ns1,stomach,1 2 6 1\ns1,large_bowel,\ns2,large_bowel,3 1 9 2\n"
            "s2,stomach,\n")
    labels = rlemask.read_labels(write(tmp_path, text), shape=(4, 3))
    assert labels.layout == "long" and labels.classes == ("stomach", "large_bowel")
    masks = labels.masks("s2")
    assert masks.shape == (2, 4, 3) and masks[0].sum() == 0
    np.testing.assert_array_equal(masks[1], ref_mask(["3 1 9 2"], (4, 3), "kaggle"))
    assert labels.rles("s1", "stomach") == ["1 2 6 1"] and labels.rles("s1", "large_bowel") == []
    with pytest.raises(ValueError, match=r"`cls` must be one of \['stomach', 'large_bowel'\]"):
        labels.mask("s1", "liver")


def test_wide_layout_class_after_the_last_underscore(tmp_path):
    text = ("ImageId_ClassId,EncodedPixels\n"
            "x_y.jpg_1,1 2 6 1\nx_y.jpg_2,\nz.jpg_1,\nz.jpg_2,3 1 9 2\n")
    labels = rlemask.read_labels(write(tmp_path, text), shape=(4, 3))
    assert labels.layout == "wide" and labels.ids == ("x_y.jpg", "z.jpg")
    assert labels.classes == ("1", "2")
    np.testing.assert_array_equal(labels.mask("z.jpg", 2), ref_mask(["3 1 9 2"], (4, 3), "kaggle"))
    assert labels.to_frame()["class"].tolist() == ["1", "2", "1", "2"]
    # an explicit layout on a header the aliases call single
    plain = text.replace("ImageId_ClassId", "ImageId")
    assert rlemask.read_labels(write(tmp_path, plain), layout="wide", shape=(4, 3)).classes == (
        "1", "2")
    with pytest.raises(LabelsFileError, match=r"line 2: id 'a' has no '_<class>' suffix"):
        rlemask.read_labels(write(tmp_path, "Image_Label,EncodedPixels\na,1 1\n"))


def test_explicit_long_needs_a_class_column(tmp_path):
    with pytest.raises(LabelsFileError, match="layout='long' needs a class column"):
        rlemask.read_labels(write(tmp_path, SINGLE), layout="long")
    with pytest.raises(ValueError, match="`layout` must be one of"):
        rlemask.read_labels(write(tmp_path, SINGLE), layout="tall")


# -- header aliases, BOM, no header, CRLF, spaces, quotes ---------------------------------

ID_NAMES = ["ImageId", "id", "fname", "image_id", "record_id", "Id"]
RLE_NAMES = ["EncodedPixels", "mask", "segmentation", "predicted", "encoding", "rle_mask",
             "encoded_pixels", " EncodedPixels"]


@pytest.mark.parametrize("id_name", ID_NAMES)
@pytest.mark.parametrize("rle_name", RLE_NAMES)
def test_header_aliases(tmp_path, id_name, rle_name):
    p = write(tmp_path, f"{id_name},{rle_name}\na,1 2 6 1\nb,3 1 9 2\n")
    labels = rlemask.read_labels(p, format="kaggle")
    assert labels.ids == ("a", "b") and labels.rles("b") == ["3 1 9 2"]


@pytest.mark.parametrize("class_name", ["ClassId", "class", "class_id"])
def test_class_aliases(tmp_path, class_name):
    p = write(tmp_path, f"ImageId,{class_name},EncodedPixels\na,3,1 2\na,1,\n")
    assert rlemask.read_labels(p, format="kaggle").classes == ("3", "1")


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffImageId,EncodedPixels\na,1 2 7 1\nb,-1\n",  # BOM
        "\ufeffa, 1 2 7 1\nb, -1\n",  # no header, BOM, leading spaces (SIIM's own sample)
        "ImageId, EncodedPixels\r\na, 1 2 7 1\r\n\r\nb, -1\r\n",  # CRLF, blank line
        '"ImageId","EncodedPixels"\n"a","1 2 7 1"\n  b  ,  -1  \n',  # quotes, spaces
        "fname,mask\na,1 2 7 1\nb,-1",  # another spelling, no final newline
        "ImageId,EncodedPixels\ra,1 2 7 1\rb,-1\r",  # old Mac line ends
    ],
)
def test_file_variants_read_the_same(tmp_path, text):
    labels = rlemask.read_labels(write(tmp_path, text), format="siim")
    assert labels.ids == ("a", "b") and labels.n_rows == 2
    assert labels.rles("a") == ["1 2 7 1"] and labels.rles("b") == []
    np.testing.assert_array_equal(labels.mask("a", shape=(6, 5)),
                                  ref.siim_decode("1 2 7 1", (6, 5)))


def test_quoted_id_with_comma_and_doubled_quote(tmp_path):
    p = write(tmp_path, 'ImageId,EncodedPixels\n"a,""b""",1 2\n"c\nd",-1\ne,3 4\n')
    labels = rlemask.read_labels(p, format="siim")
    assert labels.ids == ('a,"b"', "c\nd", "e")
    with pytest.raises(KeyError, match="no image"):
        labels.shape_of("e ")
    assert labels.to_frame().shape == (3, 3)


def test_gzip_by_content(tmp_path):
    import gzip

    p = tmp_path / "labels.csv.gz"
    p.write_bytes(gzip.compress(SINGLE.encode()))
    assert rlemask.read_labels(p, shape=(4, 3)).ids == ("a", "b", "c")


def test_columns_mapping_names_and_positions(tmp_path):
    p = write(tmp_path, "key,stuff,pixels\na,x,1 2 7 1\n")
    labels = rlemask.read_labels(p, columns={"id": "key", "rle": "pixels"}, format="siim")
    assert labels.rles("a") == ["1 2 7 1"]
    q = write(tmp_path, "a;1,x,1 2 7 1\n", name="q.csv")
    labels = rlemask.read_labels(q, columns={"id": 0, "rle": 2}, format="siim")
    assert labels.ids == ("a;1",)
    with pytest.raises(LabelsFileError, match=r"no column named 'nope' \(for 'rle'\)"):
        rlemask.read_labels(p, columns={"id": "key", "rle": "nope"})
    with pytest.raises(ValueError, match="unknown role"):
        rlemask.read_labels(p, columns={"pixels": "pixels"})
    with pytest.raises(LabelsFileError, match=r"no id and no rle column in \['key', 'stuff'"):
        rlemask.read_labels(p)


def test_per_row_height_and_width_give_each_image_its_shape(tmp_path):
    text = ("id,class,segmentation,height,width\n"
            "c1,stomach,1 2 5 2,3,3\nc1,bowel,,3,3\nc2,stomach,2 3,2,4\nc2,bowel,,2,4\n")
    labels = rlemask.read_labels(write(tmp_path, text), format="kaggle")
    assert labels.shape_of("c1") == (3, 3) and labels.shape_of("c2") == (2, 4)
    assert labels.masks("c2").shape == (2, 2, 4)
    np.testing.assert_array_equal(labels.mask("c2", "stomach"),
                                  ref.kaggle_decode("2 3", (2, 4)))
    bad = text.replace("c2,stomach,2 3,2,4", "c2,stomach,2 30,2,4")
    with pytest.raises(RLEError, match=r"line 4 \(id 'c2'\): .*pixels up to 30.*\(2, 4\)"):
        rlemask.read_labels(write(tmp_path, bad), format="kaggle")
    differ = text.replace("c1,bowel,,3,3", "c1,bowel,,3,4")
    with pytest.raises(LabelsFileError, match=r"line 3 \(id 'c1'\): height/width \(3, 4\)"):
        rlemask.read_labels(write(tmp_path, differ), format="kaggle")


# -- empty tokens ------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "-1", " -1", "-", "nan", "NaN"])
def test_default_empty_tokens(tmp_path, token):
    labels = rlemask.read_labels(write(tmp_path, f"ImageId,EncodedPixels\na,{token}\nb,1 2\n"),
                                 format="kaggle")
    assert labels.rles("a") == [] and labels.mask("a", shape=(2, 2)).sum() == 0
    assert labels.ids == ("a", "b")


def test_extra_empty_tokens(tmp_path):
    p = write(tmp_path, "ImageId,EncodedPixels\na,1 1\nb,none\nc,3 1\n")
    with pytest.raises(LabelsFileError, match=r"line 3 \(id 'b'\): RLE token 0 \('none'\)"):
        rlemask.read_labels(p)
    labels = rlemask.read_labels(p, empty=["1 1", "none"], format="kaggle")
    assert labels.rles("a") == [] and labels.rles("b") == [] and labels.rles("c") == ["3 1"]
    with pytest.raises(TypeError, match="`empty` must be a str"):
        rlemask.read_labels(p, empty=1)


# -- the convention: siim or kaggle, with evidence --------------------------------


@pytest.mark.parametrize(
    ("text", "fmt", "why"),
    [
        ("1 2 7 1 7 2 9 1", "siim", "go backwards"),  # FORMATS.md's example, both ways
        ("0 3", "siim", "start at pixel 0"),
        ("2 2 11 1 19 2 30 1", "kaggle", "increasing"),
    ],
)
def test_auto_format_from_the_rows(tmp_path, text, fmt, why):
    p = write(tmp_path, f"ImageId,EncodedPixels\na,{text}\nb,-1\n")
    labels = rlemask.read_labels(p)
    assert labels.format == fmt and why in labels.format_evidence
    want = (ref.siim_decode if fmt == "siim" else ref.kaggle_decode)(text, (6, 5))
    np.testing.assert_array_equal(labels.mask("a", shape=(6, 5)), want)


def test_auto_format_kaggle_from_the_image_size(tmp_path):
    # two runs, increasing: too little evidence alone; as SIIM offsets they run past 12 pixels
    p = write(tmp_path, "ImageId,EncodedPixels\na,3 2 7 2\n")
    assert rlemask.read_labels(p).format is None
    labels = rlemask.read_labels(p, shape=(4, 3))
    assert labels.format == "kaggle" and "run past the image" in labels.format_evidence


def test_undecided_format_opens_but_refuses_to_decode(tmp_path):
    p = write(tmp_path, "ImageId,EncodedPixels\na,1 1\nb,\n")
    labels = rlemask.read_labels(p)
    assert labels.format is None and "too little evidence" in labels.format_evidence
    assert labels.rles("a") == ["1 1"]
    assert labels.mask("b", shape=(2, 2)).sum() == 0  # nothing to decode
    with pytest.raises(LabelsFileError, match=r"format is undecided.*format='siim'"):
        labels.mask("a", shape=(2, 2))
    # the caller's explicit choice
    assert rlemask.read_labels(p, format="siim").mask("a", shape=(2, 2))[1, 0] == 1
    assert rlemask.read_labels(p, format="kaggle").mask("a", shape=(2, 2))[0, 0] == 1


def test_explicit_kaggle_refuses_backward_starts(tmp_path):
    p = write(tmp_path, "ImageId,EncodedPixels\na,5 1\nb,1 2 7 1 7 2\n")
    with pytest.raises(LabelsFileError, match=r"line 3 \(id 'b'\): kaggle RLE with runs that "
                                              r"overlap.*format='siim'"):
        rlemask.read_labels(p, format="kaggle")


def test_row_major_kaggle(tmp_path):
    p = write(tmp_path, "Id,Predicted\na,4 1 6 1 9 1 11 1 22 1 30 1\n")
    labels = rlemask.read_labels(p, order="C")
    np.testing.assert_array_equal(labels.mask("a", shape=(6, 5)),
                                  ref.kaggle_decode("4 1 6 1 9 1 11 1 22 1 30 1", (6, 5), "C"))


# -- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", LabelsFileError, "empty file"),
        ("ImageId,EncodedPixels\n<<<<<<< HEAD\na,1 2\n", LabelsFileError,
         r"line 2: expected 2 columns, got 1 \(a git merge-conflict marker"),
        ("ImageId,EncodedPixels\na,1 2\n,3 4\n", LabelsFileError, r"line 3: empty id"),
        ("ImageId,EncodedPixels\na,1 2\nb,1 x\n", LabelsFileError,
         r"line 3 \(id 'b'\): RLE token 1 \('x'\) is not an integer"),
        ("ImageId,EncodedPixels\nb,1 2 3\n", LabelsFileError, r"line 2 .*odd number of tokens"),
        ("ImageId,EncodedPixels\nb,1 0\n", LabelsFileError, r"token 1 \('0'\) is a run length"),
        ("ImageId,EncodedPixels\nb,\"1 2\n", LabelsFileError, r"line 2: .*quoted field never"),
        ("ImageId,EncodedPixels\nb,\"1 2\"x\n", LabelsFileError, r"line 2: .*after a closing"),
    ],
)
def test_bad_files_name_the_line(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        rlemask.read_labels(write(tmp_path, text))


def test_pixels_outside_the_shape_name_line_and_id(tmp_path):
    p = write(tmp_path, "ImageId,EncodedPixels\na,1 2\nb,10 5 30 2\n")
    with pytest.raises(RLEError, match=r"line 3 \(id 'b'\): the row covers pixels up to 30"):
        rlemask.read_labels(p, shape=(6, 5), format="kaggle")
    labels = rlemask.read_labels(p, format="kaggle")  # no size known: checked when decoding
    with pytest.raises(RLEError, match=r"line 3 \(id 'b'\).*shape \(4, 4\)"):
        labels.mask("b", shape=(4, 4))
    with pytest.raises(ValueError, match=r"size of image 'a' is unknown.*shape=\(height, width"):
        labels.mask("a")


def test_bad_arguments(tmp_path):
    p = write(tmp_path, SINGLE)
    with pytest.raises(ValueError, match="unknown RLE format 'kagle'"):
        rlemask.read_labels(p, format="kagle")
    with pytest.raises(TypeError, match="`source` must be a CSV path or a pandas DataFrame"):
        rlemask.read_labels(3)
    with pytest.raises(OSError):
        rlemask.read_labels(tmp_path / "missing.csv")
    with pytest.raises(KeyError, match="no image 'zz'"):
        rlemask.read_labels(p, shape=(4, 3)).mask("zz")


# -- DataFrames ----------------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"dtype": "string"}, {"dtype_backend": "numpy_nullable"},
                                {"keep_default_na": False}])
def test_dataframe_path_with_nullable_strings(tmp_path, kw):
    pd = pytest.importorskip("pandas")
    p = write(tmp_path, "ImageId,EncodedPixels\na,1 2 6 1\nb,\nc,-1\n")
    frame = pd.read_csv(p, **kw)
    labels = rlemask.read_labels(frame, format="kaggle")
    assert labels.ids == ("a", "b", "c") and labels.rles("b") == [] and labels.rles("c") == []
    np.testing.assert_array_equal(labels.mask("a", shape=(4, 3)),
                                  ref.kaggle_decode("1 2 6 1", (4, 3)))
    assert labels.source == "`source`"


def test_dataframe_long_layout_with_shapes_and_numbers():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": ["s1", "s1", "s2"], "class": ["x", "y", "x"],
                          "segmentation": ["1 2", None, pd.NA], "height": [2, 2, 3],
                          "width": [2, 2, 1]})
    labels = rlemask.read_labels(frame, format="kaggle")
    assert labels.layout == "long" and labels.shape_of("s2") == (3, 1)
    assert labels.masks("s1")[0].tolist() == [[1, 0], [1, 0]]
    numbers = pd.DataFrame({"ImageId": ["a", "b"], "EncodedPixels": [-1, -1]})
    assert rlemask.read_labels(numbers).rles("a") == []
    with pytest.raises(ValueError, match=r"row 1: empty id"):
        rlemask.read_labels(pd.DataFrame({"ImageId": ["a", None], "EncodedPixels": ["", ""]}))


def test_short_rows_after_a_long_first_megabyte(tmp_path):
    # rows are allocated from the first MB's line ends: shorter rows later make the
    # splitter run out and count them all (the retry path)
    long_text = " ".join(f"{1 + 4 * i} 2" for i in range(2000))
    head = "".join(f"l{i},{long_text}\n" for i in range(80))
    tail = "".join(f"s{i},{1 + i % 5} 1\n" for i in range(40000))
    p = write(tmp_path, "ImageId,EncodedPixels\n" + head + tail)
    labels = rlemask.read_labels(p, format="kaggle")
    assert labels.n_rows == 40080 and labels.ids[-1] == "s39999"
    assert labels.rles("s39999") == ["5 1"] and len(labels.rles("l79")[0]) == len(long_text)


def test_many_rows_of_the_wrong_width_are_all_counted(tmp_path):
    p = write(tmp_path, "ImageId,EncodedPixels\n" + "a,1 2,3\n" * 5000 + "b,1 2\n")
    report = rlemask.inspect_labels(p)
    assert report.problem_counts == {"wrong-columns": 5000} and report.n_rows == 1
    assert len(report.problems) == 20 and report.problems[0]["line"] == 2
    with pytest.raises(LabelsFileError, match="line 2: expected 2 columns, got 3"):
        rlemask.read_labels(p)


def test_ids_that_hash_alike_stay_apart(tmp_path):
    # the factorization is by hash, confirmed byte for byte: quoted and plain spellings
    # of one id are one id, different ids are never merged
    p = write(tmp_path, 'ImageId,EncodedPixels\n"a",1 1\na,3 1\n"a""",5 1\nab,7 1\nba,9 1\n')
    labels = rlemask.read_labels(p, format="kaggle")
    assert labels.ids == ("a", 'a"', "ab", "ba") and labels.rles("a") == ["1 1", "3 1"]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_large_files_split_in_threads_read_the_same(tmp_path, monkeypatch, newline):
    from rlemask import label_rows

    rows, bad = [], []
    for i in range(3000):
        rows.append(f"img{i // 3},c{i % 3},{'' if i % 4 else f'{1 + i % 7} 2 {20 + i % 5} 3'}")
        bad.append(rows[-1])
        if i % 997 == 0:
            rows.append("")  # a blank line
            bad += ["", "bad,row,with,too,many"]  # and a row of the wrong width
    p = write(tmp_path, newline.join(["id,class,predicted", *rows]) + newline)
    q = write(tmp_path, newline.join(["id,class,predicted", *bad]) + newline, "bad.csv")
    serial, report = rlemask.read_labels(p, format="kaggle"), rlemask.inspect_labels(q)
    monkeypatch.setattr(label_rows, "_PARALLEL_BYTES", 1)
    monkeypatch.setattr(label_rows.os, "cpu_count", lambda: 4)
    assert len(label_rows._chunks(p.read_bytes(), 0)) == 5  # four chunks
    threaded = rlemask.read_labels(p, format="kaggle")
    assert threaded.ids == serial.ids and threaded.classes == serial.classes
    assert list(threaded.iter_rows()) == list(serial.iter_rows())
    assert rlemask.inspect_labels(q).problems == report.problems
    assert [x["line"] for x in report.problems] == [4, 1003, 2002, 3001]
    with pytest.raises(LabelsFileError, match=r"line 1000: expected 3 columns"):
        rlemask.read_labels(write(tmp_path, newline.join(["id,class,predicted", *bad[3:]])
                                  + newline, "later.csv"))


def test_validate_false_checks_each_row_when_it_is_decoded(tmp_path):
    p = write(tmp_path, "ImageId,EncodedPixels\na,1 2 6 1 9 2\nb,1 x\nc,5 1 2 1 9 1\n"
                        "d,10 5\ne,\n")
    labels = rlemask.read_labels(p, validate=False, shape=(4, 3))
    assert labels.format == "kaggle" and "(from 4 of 4 non-empty rows)" in labels.format_evidence
    assert labels.rles("b") == ["1 x"] and labels.rles("e") == []
    np.testing.assert_array_equal(labels.mask("a"), ref.kaggle_decode("1 2 6 1 9 2", (4, 3)))
    with pytest.raises(RLEError, match=r"line 3 \(id 'b'\): RLE token 1 \('x'\) is not an"):
        labels.mask("b")
    with pytest.raises(RLEError, match=r"line 4 \(id 'c'\): kaggle RLE with starts that go"):
        labels.objects("c")
    with pytest.raises(RLEError, match=r"line 5 \(id 'd'\): the row covers pixels up to 13"):
        labels.masks("d")
    assert labels.mask("e").sum() == 0
    with pytest.raises(RLEError, match=r"line 3 \(id 'b'\)"):
        labels.max_pixel  # noqa: B018 - measuring every row checks every row


@pytest.mark.parametrize("name", ["siim/train-rle.stage1.csv.gz",
                                  "uw-madison/submission_predicted_azkalot1.csv",
                                  "dsb2018/stage1_sample_submission.csv"])
def test_validate_false_reads_real_files_the_same(real_dir, name):
    full = rlemask.read_labels(real_dir / name)
    fast = rlemask.read_labels(real_dir / name, validate=False)
    assert (fast.format, fast.ids, fast.classes) == (full.format, full.ids, full.classes)
    assert list(fast.iter_rows()) == list(full.iter_rows())
    assert fast.max_pixel == full.max_pixel


def test_header_only_latin1_and_utf16_files(tmp_path):
    labels = rlemask.read_labels(write(tmp_path, "ImageId,EncodedPixels\n\n"))
    assert (labels.n_rows, labels.ids, labels.format) == (0, (), None)
    assert labels.to_dict() == {} and labels.max_pixel is None
    latin = tmp_path / "latin.csv"
    latin.write_bytes("ImageId,EncodedPixels\nbébé,1 2\n".encode("latin-1"))
    with pytest.raises(LabelsFileError, match=r"latin\.csv, line 2: not UTF-8 text"):
        rlemask.read_labels(latin)
    with pytest.raises(LabelsFileError, match="UTF-16 text; save the file as UTF-8"):
        rlemask.read_labels(write(tmp_path, "ImageId,EncodedPixels\n", "u16.csv", "utf-16"))
