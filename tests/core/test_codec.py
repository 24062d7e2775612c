"""decode / encode / merge / warmup against the slow references, and every bad input."""

from __future__ import annotations

import math
import multiprocessing
import os

import numpy as np
import pytest
import reference_rle as ref
from hypothesis import given
from hypothesis import strategies as st

import rlemask
from rlemask import RLEError

pytestmark = pytest.mark.kernels

# FORMATS.md worked example: a 6 x 5 mask that ends on the last pixel
EXAMPLE = ref.FORMATS_EXAMPLE
SIIM = "1 2 7 1 7 2 9 1"
KAGGLE = "2 2 11 1 19 2 30 1"
KAGGLE_C = "4 1 6 1 9 1 11 1 22 1 30 1"


# ----------------------------------------------------------------- worked example
def test_worked_example_literal_strings():
    assert rlemask.encode(EXAMPLE) == SIIM
    assert rlemask.encode(EXAMPLE, format="siim") == SIIM
    assert rlemask.encode(EXAMPLE, format="kaggle") == KAGGLE
    assert rlemask.encode(EXAMPLE, format="kaggle", order="C") == KAGGLE_C
    for text, fmt, opts in [
        (SIIM, "siim", {}),
        (KAGGLE, "kaggle", {}),
        (KAGGLE_C, "kaggle", {"order": "C"}),
    ]:
        out = rlemask.decode(text, (6, 5), format=fmt, **opts)
        np.testing.assert_array_equal(out, EXAMPLE)
    assert rlemask.Runs.from_mask(EXAMPLE).bbox() == (0, 0, 5, 6)


def test_last_pixel_run_is_emitted():
    # the competition helper dropped a run reaching the last pixel
    mask = np.zeros((4, 4), np.uint8)
    mask[2:, 3] = 1
    assert rlemask.encode(mask) == "14 2"
    assert rlemask.encode(mask, format="kaggle") == "15 2"
    full = np.ones((3, 2), bool)
    assert rlemask.encode(full) == "0 6"
    np.testing.assert_array_equal(rlemask.decode("0 6", (3, 2)), full)


def test_encode_bool_array_with_odd_bytes():
    # a bool view of bytes other than 0/1 (e.g. from a buffer): non-zero is foreground
    raw = np.array([[0, 2, 0, 0, 7, 0, 0, 255]] * 2, np.uint8)
    mask = raw.view(np.bool_)
    assert rlemask.encode(mask) == rlemask.encode(raw != 0) == "2 2 4 2 4 2"


def test_decode_returns_c_contiguous_uint8():
    out = rlemask.decode(SIIM, (6, 5))
    assert out.dtype == np.uint8 and out.flags.c_contiguous and out.shape == (6, 5)
    assert set(np.unique(out)) <= {0, 1}


@pytest.mark.parametrize("empty", [None, math.nan, float("nan"), "", "-1", " -1", b"-1", b"", "  "])
def test_decode_empty_markers(empty):
    out = rlemask.decode(empty, (3, 4))
    assert out.shape == (3, 4) and out.dtype == np.uint8 and not out.any()


def test_decode_kaggle_empty_markers():
    for empty in ("", "-1", None):
        assert not rlemask.decode(empty, (2, 2), format="kaggle").any()


def test_encode_empty():
    z = np.zeros((3, 3), np.uint8)
    assert rlemask.encode(z) == "-1"
    assert rlemask.encode(z, format="kaggle") == ""
    assert rlemask.encode(z, format="kaggle", order="C") == ""


def test_decode_accepts_bytes_and_extra_whitespace():
    out = rlemask.decode(b" 1 2\t7 1\n7 2  9 1 ", (6, 5))
    np.testing.assert_array_equal(out, EXAMPLE)


def test_touching_runs_are_merged_when_read():
    # offset 0 after the first run: runs touch; the result is the same mask
    np.testing.assert_array_equal(rlemask.decode("1 1 0 1", (6, 5)), rlemask.decode("1 2", (6, 5)))
    np.testing.assert_array_equal(
        rlemask.decode("2 1 3 1", (6, 5), format="kaggle"), rlemask.decode("1 2", (6, 5))
    )


# ----------------------------------------------------------------- round trips
@given(ref.masks())
def test_siim_round_trip(case):
    arr, expected = case
    text = rlemask.encode(arr)
    assert text == ref.siim_encode(expected)
    out = rlemask.decode(text, expected.shape)
    assert out.flags.c_contiguous and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(ref.siim_decode(text, expected.shape), expected)


@given(ref.masks(), st.sampled_from(["F", "C"]))
def test_kaggle_round_trip(case, order):
    arr, expected = case
    text = rlemask.encode(arr, format="kaggle", order=order)
    assert text == ref.kaggle_encode(expected, order)
    out = rlemask.decode(text, expected.shape, format="kaggle", order=order)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, expected)


@given(ref.masks(), st.sampled_from(["bytes", "str", "list"]))
def test_coco_round_trip(case, counts):
    arr, expected = case
    rle = rlemask.encode(arr, format="coco", counts=counts)
    assert rle["size"] == list(expected.shape)
    want = ref.coco_counts(expected)
    if counts == "list":
        assert rle["counts"] == want
    elif counts == "bytes":
        assert rle["counts"] == ref.coco_compress(want)
    else:
        assert rle["counts"] == ref.coco_compress(want).decode()
    np.testing.assert_array_equal(rlemask.decode(rle, format="coco"), expected)


@given(ref.masks(max_side=6), ref.masks(max_side=6))
def test_merge_modes_match_numpy(a, b):
    (_, ma), (_, mb) = a, b
    if ma.shape != mb.shape:
        mb = np.resize(mb, ma.shape)
    rles = [rlemask.encode(ma), rlemask.encode(mb), rlemask.encode(ma)]  # a repeated row
    np.testing.assert_array_equal(rlemask.merge(rles, ma.shape), ma | mb)
    stack = rlemask.merge(rles, ma.shape, mode="stack")
    np.testing.assert_array_equal(stack, np.stack([ma, mb, ma]))
    label = rlemask.merge(rles, ma.shape, mode="label")
    want = np.zeros(ma.shape, np.int32)
    for i, m in enumerate([ma, mb, ma]):
        want[m == 1] = i + 1  # later rows win
    assert label.dtype == np.int32
    np.testing.assert_array_equal(label, want)


def test_merge_edge_cases():
    assert rlemask.merge([], (2, 3)).shape == (2, 3)
    assert rlemask.merge([], (2, 3), mode="stack").shape == (0, 2, 3)
    assert not rlemask.merge([None, "-1", ""], (2, 3)).any()
    # a single string is one region, not an iterable of characters
    np.testing.assert_array_equal(rlemask.merge(SIIM, (6, 5)), EXAMPLE)
    with pytest.raises(ValueError, match=r"`mode` must be one of .*received mode='max'"):
        rlemask.merge([SIIM], (6, 5), mode="max")
    with pytest.raises(RLEError, match=r"item 1 of `rles`: siim RLE: token 2"):
        rlemask.merge([SIIM, "1 2 x 4"], (6, 5))


def test_merge_kaggle_row_major_and_coco():
    np.testing.assert_array_equal(
        rlemask.merge([KAGGLE_C, ""], (6, 5), format="kaggle", order="C"), EXAMPLE
    )
    coco = rlemask.encode(EXAMPLE, format="coco")
    np.testing.assert_array_equal(rlemask.merge([coco], (6, 5), format="coco"), EXAMPLE)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("text", "shape", "message"),
    [
        ("1 2 3", (6, 5), r"odd number of tokens \(3\); token 2 \(3\)"),
        ("1 2 x 4", (6, 5), r"token 2 \('x'\) is not an integer"),
        ("1 2 7 1.5", (6, 5), r"token 3 \('1.5'\) is not an integer"),
        ("1 2 7 -", (6, 5), r"token 3 \('-'\) is not an integer"),
        ("1 2 7 1é", (6, 5), r"token 3 \('1é'\) is not an integer"),
        ("1 0", (6, 5), r"token 1 \(0\): a run length must be positive"),
        ("1 -3", (6, 5), r"token 1 \(-3\): a run length must be positive"),
        ("1 2 -1 2", (6, 5), r"token 2 \(-1\): negative relative offset"),
        ("-1 2", (6, 5), r"token 0 \(-1\): negative relative offset"),
        ("28 3", (6, 5), r"token 1 \(3\): run goes past the last pixel \(H\*W = 30"),
        ("31 1", (6, 5), r"token 0 \(31\): run goes past the last pixel"),
        ("1 2 999999999999999999 1", (6, 5), r"token 2 \(999999999999999999\): run goes past"),
        ("1 2 1234567890123456789 1", (6, 5), r"token 2 \('1234567890123456789'\) has more"),
    ],
)
def test_siim_bad_input(text, shape, message):
    with pytest.raises(RLEError, match=r"siim RLE: " + message):
        rlemask.decode(text, shape)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2 2 11", r"odd number of tokens \(3\)"),
        ("2 2 a 1", r"token 2 \('a'\) is not an integer"),
        ("0 2", r"token 0 \(0\): starts are 1-based, must be >= 1"),
        ("2 0", r"token 1 \(0\): a run length must be positive"),
        ("2 4 3 1", r"token 2 \(3\): run overlaps the previous run or goes backwards"),
        ("11 1 2 2", r"token 2 \(2\): run overlaps the previous run or goes backwards"),
        ("30 2", r"token 1 \(2\): run goes past the last pixel \(H\*W = 30"),
        ("31 1", r"token 0 \(31\): run goes past the last pixel"),
    ],
)
def test_kaggle_bad_input(text, message):
    with pytest.raises(RLEError, match=r"kaggle RLE: " + message):
        rlemask.decode(text, (6, 5), format="kaggle")


@pytest.mark.parametrize(
    "shape", [(0, 5), (5, -1), (5,), (1, 2, 3), (2.0, 3), ("2", 3), None, 5, (True, 2)]
)
def test_bad_shape(shape):
    with pytest.raises(RLEError, match=r"`shape` must be \(height, width\), two positive ints"):
        rlemask.decode("1 2", shape)
    with pytest.raises(RLEError, match="; received shape="):
        rlemask.merge(["1 2"], shape)


def test_numpy_int_shape_is_accepted():
    out = rlemask.decode("1 2", (np.int64(6), np.int32(5)))
    assert out.shape == (6, 5)


def test_bad_types():
    with pytest.raises(TypeError, match="a 'siim' RLE must be str or bytes; received list"):
        rlemask.decode([1, 2], (6, 5))
    with pytest.raises(TypeError, match=r"bool or integer array.*received mask.dtype=float32"):
        rlemask.encode(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"2-D array.*received mask.shape=\(2, 2, 1\)"):
        rlemask.encode(np.zeros((2, 2, 1), np.uint8))
    with pytest.raises(ValueError, match="unknown RLE format 'rle'; available formats: coco"):
        rlemask.decode("1 2", (6, 5), format="rle")
    with pytest.raises(ValueError, match=r"`order` must be 'F' \(column-major\).*order='X'"):
        rlemask.encode(EXAMPLE, format="kaggle", order="X")
    with pytest.raises(TypeError, match="order"):
        rlemask.encode(EXAMPLE, format="siim", order="C")  # siim has no order option


BAD_AFTER_GOOD = ["1 2 7 1 7 2 9 1 0 1", "1 2 7 1 7 2 9 99", "1 2 7 1 7 2 9", "1 2 7 x", "1 2 -9 1"]


@pytest.mark.parametrize("text", BAD_AFTER_GOOD)
def test_fast_kernel_writes_nothing_on_error(text):
    """The one-call decode kernels validate every run before writing a pixel."""
    from rlemask import _kernels

    out = np.zeros((6, 5), np.int8)
    buf = np.frombuffer(text.encode(), np.uint8)
    assert _kernels._decode_pairs(buf, out, True, 0, False) != 0
    assert not out.any()
    bad_kaggle = np.frombuffer(b"2 2 11 1 19 2 30 2", np.uint8)
    for row_major in (False, True):
        assert _kernels._decode_pairs(bad_kaggle, out, False, 1, row_major) != 0
        assert not out.any()
    with pytest.raises(RLEError):
        rlemask.decode(text, (6, 5))


def test_generic_path_validates_before_writing(monkeypatch):
    """Formats without a fast path parse to Runs (validated) before anything is decoded."""
    from rlemask import _kernels

    calls = []
    monkeypatch.setattr(_kernels, "_fill_colmajor_rows", lambda *args: calls.append(args))
    for counts in ([1, 2, 7, 1, 40], [1, 2, -7, 1]):
        with pytest.raises(RLEError):
            rlemask.decode({"size": [6, 5], "counts": counts}, format="coco")
    with pytest.raises(RLEError):
        rlemask.merge(["1 2", "1 2 7 1 7 2 9 99"], (6, 5))
    assert calls == []
    rlemask.decode({"size": [6, 5], "counts": [1, 2]}, format="coco")
    assert len(calls) == 1  # the spy is really wired in


# ----------------------------------------------------------------- compile cost
def _decode_worker(text: str) -> int:
    return int(rlemask.decode(text, (6, 5)).sum())


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="tests the numba cache")
def test_spawned_worker_pool_decodes():
    rlemask.warmup()  # the parent fills the on-disk cache first
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        assert pool.map(_decode_worker, [SIIM, "-1", "0 30", SIIM]) == [6, 0, 30, 6]


def test_warmup_leaves_nothing_to_compile_for_the_public_codecs():
    """After ``warmup()`` the public codecs on a 1024 x 1024 mask compile nothing new."""
    import os

    from rlemask import _kernels, _runs_kernels

    rlemask.warmup()
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return  # plain functions: nothing is compiled

    def compiled():
        return {
            (module.__name__, name, sig)
            for module in (_kernels, _runs_kernels)
            for name, obj in vars(module).items()
            for sig in getattr(obj, "signatures", ())
        }

    before = compiled()
    assert before, "warmup() compiled no kernel"
    mask = np.zeros((1024, 1024), np.uint8)
    mask[100:300, 200:260] = 1
    mask[-1, -1] = 1
    for fmt, opts in (("siim", {}), ("kaggle", {}), ("kaggle", {"order": "C"}), ("coco", {})):
        rles = [rlemask.encode(mask, format=fmt, **opts)]
        assert (rlemask.decode(rles[0], mask.shape, format=fmt, **opts) == mask).all()
    rlemask.merge([rlemask.encode(mask), rlemask.encode(mask.T.copy())], mask.shape)
    runs = rlemask.Runs.from_mask(mask)
    _ = (runs | runs, runs & runs, runs.bbox(), runs.area)
    assert compiled() - before == set()


def test_import_compiles_nothing():
    """``import rlemask`` and the registry import no numba; ``Runs`` imports its kernels
    (at the top of runs.py, the import rule) but compiles none of them."""
    import subprocess
    import sys

    code = (
        "import sys, rlemask\n"
        "rlemask.RLEError, rlemask.formats()\n"
        "assert 'numba' not in sys.modules, 'import rlemask imported numba'\n"
        "rlemask.Runs\n"
        "from rlemask import _kernels, _runs_kernels\n"
        "compiled = [name for m in (_kernels, _runs_kernels) for name, obj in vars(m).items()\n"
        "            if getattr(obj, 'signatures', None)]\n"
        "assert compiled == [], compiled\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (1, 16), (16, 1)])
@pytest.mark.parametrize("layout", ref.LAYOUTS)
def test_single_row_and_column_masks(shape, layout):
    rng = np.random.default_rng(sum(shape))
    for density in (0.0, 0.5, 1.0):
        m = (rng.random(shape) < density).astype(np.uint8)
        m.flat[-1] = density > 0  # touch the last pixel when anything is set
        arr = ref._layout(m, layout)
        assert rlemask.encode(arr) == ref.siim_encode(m)
        for order in ("F", "C"):
            text = rlemask.encode(arr, format="kaggle", order=order)
            assert text == ref.kaggle_encode(m, order)
            out = rlemask.decode(text, shape, format="kaggle", order=order)
            np.testing.assert_array_equal(out, m)
        np.testing.assert_array_equal(rlemask.decode(rlemask.encode(arr), shape), m)
        coco = rlemask.encode(arr, format="coco", counts="list")
        assert coco["counts"] == ref.coco_counts(m)


@pytest.mark.parametrize("dtype", [">i4", "<i4", ">u2", ">i8", ">u8", "<u8", "?", "u1", "i1"])
def test_encode_any_integer_dtype_and_byte_order(dtype):
    eye = np.eye(4, dtype=dtype)
    assert rlemask.encode(eye) == "0 1 4 1 4 1 4 1"
    for fmt in ("siim", "kaggle", "coco"):
        assert rlemask.encode(eye, format=fmt) == rlemask.encode(np.eye(4, dtype=bool), format=fmt)
    assert rlemask.Runs.from_mask(np.asfortranarray(eye), order="C").to_text() == "0 1 4 1 4 1 4 1"


@pytest.mark.parametrize("shape", [(2**62, 8), (2**40, 2**40), (2**63, 2), (8, 2**62)])
def test_shapes_whose_pixel_count_does_not_fit_are_refused_up_front(shape):
    match = r"`shape` must have at most 2\*\*40 pixels"
    with pytest.raises(RLEError, match=match):
        rlemask.decode("0 1", shape)
    with pytest.raises(RLEError, match=match):
        rlemask.decode(None, shape)
    with pytest.raises(RLEError, match=match):
        rlemask.merge(["0 1"], shape)
    with pytest.raises(RLEError, match=match):
        rlemask.Runs([0], [1], shape)
    with pytest.raises(RLEError, match=match):
        rlemask.Runs.from_text("0 1", shape)
    for fmt in ("kaggle", "coco"):
        with pytest.raises(RLEError, match=match):
            rlemask.decode(
                "1 1" if fmt == "kaggle" else {"size": list(shape), "counts": [0, 1]},
                shape,
                format=fmt,
            )


@st.composite
def word_masks(draw):
    """uint8 masks that take the word kernel (width a multiple of 8), with values other
    than 0/1 in some of them, rows of long stretches, and changes in the tail words."""
    h = draw(st.integers(1, 40))
    w = 8 * draw(st.integers(1, 13))  # 1..13 words: groups of four and a tail
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["noise", "blocks", "columns", "full"]))
    if kind == "noise":
        m = rng.random((h, w)) < draw(st.floats(0, 1))
    elif kind == "blocks":  # long horizontal and vertical stretches
        m = np.zeros((h, w), bool)
        for _ in range(draw(st.integers(0, 4))):
            y, x = rng.integers(0, h), rng.integers(0, w)
            m[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = True
    elif kind == "columns":  # runs that span several whole columns
        m = np.zeros((h, w), bool)
        m[:, rng.integers(0, w) :] = True
        m[: rng.integers(0, h + 1), rng.integers(0, w)] = False
    else:
        m = np.ones((h, w), bool)
    value = draw(st.sampled_from([1, 1, 2, 255]))
    return np.where(m, value, 0).astype(np.uint8), m


@given(word_masks())
def test_word_kernel_and_row_decoder_match_the_reference(case):
    arr, m = case
    text = rlemask.encode(arr)
    assert text == ref.siim_encode(m)
    assert rlemask.encode(arr.view(bool) if arr.max() <= 1 else arr) == text
    np.testing.assert_array_equal(rlemask.decode(text, m.shape), m.astype(np.uint8))
    np.testing.assert_array_equal(rlemask.Runs.from_text(text, m.shape).to_mask(), m)
    kaggle = rlemask.encode(arr, format="kaggle", order="C")
    np.testing.assert_array_equal(
        rlemask.decode(kaggle, m.shape, format="kaggle", order="C"), m.astype(np.uint8)
    )


def test_decoders_write_every_pixel_of_an_uninitialised_array():
    """decode fills np.empty output: no byte of an earlier array may show through."""
    for _ in range(3):
        junk = np.full((64, 48), 7, np.uint8)  # leave non-zero garbage on the heap
        del junk
        out = rlemask.decode("5 3 100 40", (64, 48))
        assert set(np.unique(out)) <= {0, 1} and int(out.sum()) == 43
        out = rlemask.decode("6 3 101 40", (64, 48), format="kaggle", order="C")
        assert set(np.unique(out)) <= {0, 1} and int(out.sum()) == 43
        out = rlemask.Runs([5, 100], [3, 40], (64, 48), order="C").to_mask()
        assert set(np.unique(out)) <= {0, 1} and int(out.sum()) == 43


@pytest.mark.kernels
@given(st.lists(st.integers(0, 5), min_size=0, max_size=12), st.integers(0, 4))
def test_fill_all_linear_overwrites_everything(gaps_and_lengths, tail):
    """The one-pass row-major fill writes 0 between runs and after the last one."""
    from rlemask import _kernels

    starts, lengths, p = [], [], 0
    pairs = zip(gaps_and_lengths[::2], gaps_and_lengths[1::2], strict=False)
    for gap, length in pairs:
        if length == 0 or (starts and gap == 0):
            continue  # canonical runs only: positive lengths, gaps between runs
        starts.append(p + gap)
        lengths.append(length)
        p += gap + length
    want = np.zeros(p + tail, np.uint8)
    for s, n in zip(starts, lengths, strict=True):
        want[s : s + n] = 1
    out = np.full(want.size, 7, np.uint8)
    _kernels._fill_all_linear(out, np.array(starts, np.int64), np.array(lengths, np.int64))
    np.testing.assert_array_equal(out, want)
