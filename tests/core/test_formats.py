"""The format registry, plugins by entry point, and COCO equality with pycocotools."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest
import reference_rle as ref
from hypothesis import given
from hypothesis import strategies as st

import rlemask
import rlemask._formats as formats_mod
from rlemask import RLEError

pytestmark = [
    pytest.mark.kernels,
    # pycocotools (numpy 2) warns inside its own decode
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

mask_api = pytest.importorskip("pycocotools.mask")


class ReversedSiim:
    """A toy plugin: SIIM text with the token order reversed."""

    name = "siim-reversed"

    def parse(self, rle, shape):
        return rlemask.get_format("siim").parse(" ".join(reversed(rle.split())), shape)

    def format(self, runs):
        return " ".join(reversed(rlemask.get_format("siim").format(runs).split()))


@pytest.fixture
def clean_registry():
    """Registrations and entry points of a test are forgotten after it."""
    state = formats_mod._FORMATS.snapshot()
    formats_mod._FORMATS.restore((state[0], None))  # entry points found afresh
    yield
    formats_mod._FORMATS.restore(state)


# ----------------------------------------------------------------- registry
def test_builtin_formats_listed():
    assert {"siim", "kaggle", "coco"} <= set(rlemask.formats())
    assert rlemask.formats() == sorted(rlemask.formats())


def test_formats_is_a_function_after_the_registry_module_is_imported():
    # the registry lives in the private package ``rlemask._formats`` so that
    # importing it never shadows the public function ``rlemask.formats``
    import rlemask._formats  # noqa: F401

    assert "siim" in rlemask.formats()
    assert callable(rlemask.register_format)


def test_unknown_format_lists_available():
    with pytest.raises(ValueError, match=r"unknown RLE format 'nope'; available formats: coco, "):
        rlemask.get_format("nope")


def test_register_format(clean_registry):
    rlemask.register_format("siim-reversed", ReversedSiim)
    assert "siim-reversed" in rlemask.formats()
    mask = rlemask.decode("1 2 7 1 7 2 9 1", (6, 5))
    text = rlemask.encode(mask, format="siim-reversed")
    assert text == "1 9 2 7 1 7 2 1"
    np.testing.assert_array_equal(rlemask.decode(text, (6, 5), format="siim-reversed"), mask)
    with pytest.raises(ValueError, match="already registered; pass replace=True"):
        rlemask.register_format("siim-reversed", ReversedSiim())
    with pytest.raises(ValueError, match="already registered"):
        rlemask.register_format("siim", ReversedSiim())
    rlemask.register_format("siim-reversed", ReversedSiim(), replace=True)


def test_register_rejects_non_codecs(clean_registry):
    with pytest.raises(TypeError, match="missing parse, format; received"):
        rlemask.register_format("bad", object())
    with pytest.raises(ValueError, match="non-empty str"):
        rlemask.register_format("", ReversedSiim())


def test_entry_point_plugin(clean_registry, monkeypatch):
    loaded = []

    class FakeEntryPoint:
        name = "siim-reversed"
        group = "rlemask.formats"

        def load(self):
            loaded.append(self.name)
            return ReversedSiim

    def entry_points(**kwargs):
        assert kwargs == {"group": "rlemask.formats"}
        return [FakeEntryPoint()]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    assert "siim-reversed" in rlemask.formats()
    assert loaded == []  # listing does not load the plugin
    mask = rlemask.decode("1 9 2 7 1 7 2 1", (6, 5), format="siim-reversed")
    assert rlemask.encode(mask) == "1 2 7 1 7 2 9 1"
    assert loaded == ["siim-reversed"]
    rlemask.decode("1 9", (6, 5), format="siim-reversed")
    assert loaded == ["siim-reversed"]  # loaded once


# ----------------------------------------------------------------- COCO vs pycocotools
@given(ref.masks())
def test_coco_equals_pycocotools(case):
    arr, expected = case
    theirs = mask_api.encode(np.asfortranarray(expected))
    ours = rlemask.encode(arr, format="coco")
    assert ours == theirs
    np.testing.assert_array_equal(rlemask.decode(theirs, format="coco"), expected)
    theirs_str = {"size": theirs["size"], "counts": theirs["counts"].decode()}
    np.testing.assert_array_equal(rlemask.decode(theirs_str, format="coco"), expected)
    np.testing.assert_array_equal(mask_api.decode(ours), expected)
    runs = rlemask.Runs.from_text(ours, expected.shape, format="coco")
    assert runs.area == int(mask_api.area(theirs))
    box = runs.bbox()
    want = mask_api.toBbox(theirs).tolist()
    assert (box is None and want == [0, 0, 0, 0]) or list(box) == want


@given(ref.masks(max_side=8, min_side=1), st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_coco_merge_equals_pycocotools(case, seed, n):
    _, first = case
    rng = np.random.default_rng(seed)
    masks = [first] + [
        (rng.random(first.shape) < rng.random()).astype(np.uint8) for _ in range(n - 1)
    ]
    rles = [mask_api.encode(np.asfortranarray(m)) for m in masks]
    union = mask_api.merge(rles, intersect=False)
    assert rlemask.encode(rlemask.merge(rles, format="coco"), format="coco") == union
    inter = mask_api.merge(rles, intersect=True)
    runs = [rlemask.Runs.from_text(r, first.shape, format="coco") for r in rles]
    acc = runs[0]
    for r in runs[1:]:
        acc = acc & r
    assert acc.to_text(format="coco") == inter


def test_coco_list_counts_and_bare_counts():
    mask = rlemask.decode("1 2 7 1 7 2 9 1", (6, 5))
    rle = rlemask.encode(mask, format="coco", counts="list")
    assert rle == {"size": [6, 5], "counts": [1, 2, 7, 1, 7, 2, 9, 1]}
    # pycocotools' frPyObjects reads the same uncompressed dict
    assert mask_api.frPyObjects(rle, 6, 5) == rlemask.encode(mask, format="coco")
    np.testing.assert_array_equal(rlemask.decode(rle, format="coco"), mask)
    np.testing.assert_array_equal(rlemask.decode(b"127O012O", (6, 5), format="coco"), mask)
    np.testing.assert_array_equal(
        rlemask.decode(np.array([1, 2, 7, 1]), (6, 5), format="coco"),
        rlemask.decode("1 2 7 1", (6, 5)),
    )
    assert rlemask.encode(np.zeros((2, 3), bool), format="coco", counts="list")["counts"] == [6]
    assert rlemask.encode(np.ones((2, 3), bool), format="coco", counts="list")["counts"] == [0, 6]
    assert isinstance(rlemask.encode(mask, format="coco", counts="str")["counts"], str)


def test_coco_shape_from_dict():
    rle = {"size": [3, 2], "counts": [1, 2]}
    assert rlemask.decode(rle, format="coco").shape == (3, 2)  # default shape ignored
    assert rlemask.decode(rle, (3, 2), format="coco").shape == (3, 2)
    with pytest.raises(RLEError, match=r"`shape` \(4, 4\) disagrees with the dict's size \[3, 2\]"):
        rlemask.decode(rle, (4, 4), format="coco")


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ({"size": [2, 2], "counts": [1, -1]}, r"count 1 \(-1\) is negative"),
        ({"size": [2, 2], "counts": [1, 4]}, r"count 1 \(4\) goes past the last pixel"),
        ({"size": [2, 2], "counts": [1, 1.5]}, r"count 1 \(1.5\) is not an int"),
        ({"size": [2, 2], "counts": "1 "}, r"bad character at character 1 \(' '\)"),
        ({"size": [2, 2], "counts": "1\\"}, r"ends inside a count"),
        ({"size": [2, 0], "counts": "1"}, r"`size` must be \(height, width\)"),
        ({"size": [2, 2]}, r"the dict has no 'counts' key"),
        ({"size": [2, 2], "counts": [1, 2**70]}, r"does not fit in 64 bits"),
        ({"size": [2, 2], "counts": "o" * 13}, r"bad character at character 12"),
    ],
)
def test_coco_bad_input(rle, message):
    with pytest.raises(RLEError, match=message):
        rlemask.decode(rle, format="coco")


def test_coco_counts_of_wrong_type():
    with pytest.raises(TypeError, match=r"counts must be a compressed str/bytes.*received int"):
        rlemask.decode({"size": [2, 2], "counts": 5}, format="coco")


def test_coco_bad_counts_option():
    with pytest.raises(ValueError, match=r"`counts` must be one of bytes, str, list"):
        rlemask.encode(np.zeros((2, 2), bool), format="coco", counts="json")


# ----------------------------------------------------------------- pairs-text codecs
def _pairs_reference(mask: np.ndarray, relative: bool, base: int, order: str) -> str:
    """The obvious encoder of any pairs format: runs of the flat scan, then the offsets."""
    tokens, end = [], 0
    for s, n in ref.runs_of(ref.flat(mask, order)):
        tokens += [s - end if relative and tokens else s + base, n]
        end = s + n
    return " ".join(map(str, tokens))


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("base", [0, 1])
@given(case=ref.masks(), order=st.sampled_from("FC"))
def test_pairs_codec_constants_against_reference(relative, base, order, case):
    """Every combination of the constants encodes and decodes as the reference says."""
    arr, expected = case
    codec = rlemask.PairsCodec("p", relative=relative, base=base, empty="none", order_option=True)
    want = _pairs_reference(expected, relative, base, order) or "none"
    assert codec.encode_mask(arr, order=order) == want
    np.testing.assert_array_equal(codec.decode_mask(want, expected.shape, order=order), expected)
    runs = codec.parse(want, expected.shape, order=order)
    assert runs == rlemask.Runs.from_mask(expected, order=order)
    assert codec.format(runs, order=order) == want


def test_a_registered_pairs_codec_is_a_format(clean_registry):
    codec = rlemask.PairsCodec("abs0", relative=False, base=0, empty="", also_empty=["none"])
    rlemask.register_format("abs0", codec)
    mask = rlemask.decode("1 2 7 1 7 2 9 1", (6, 5))
    assert rlemask.encode(mask, format="abs0") == "1 2 10 1 18 2 29 1"
    np.testing.assert_array_equal(rlemask.decode("1 2 10 1 18 2 29 1", (6, 5), format="abs0"), mask)
    assert rlemask.decode(" none ", (6, 5), format="abs0").sum() == 0
    with pytest.raises(RLEError, match=r"abs0 RLE: token 2 \(30\): run goes past the last pixel"):
        rlemask.decode("1 2 30 1", (6, 5), format="abs0")


def test_builtin_pairs_formats_are_pairs_codecs():
    siim, kaggle = rlemask.get_format("siim"), rlemask.get_format("kaggle")
    assert isinstance(siim, rlemask.PairsCodec) and isinstance(kaggle, rlemask.PairsCodec)
    assert (siim.relative, siim.base, siim.empty, siim.empty_tokens) == (True, 0, "-1", ("", "-1"))
    assert (kaggle.relative, kaggle.base, kaggle.empty) == (False, 1, "")
    assert kaggle.empty_tokens == ("", "-1", "-")
    assert siim.warmup_options == ({},) and kaggle.warmup_options == ({}, {"order": "C"})


@pytest.mark.parametrize("marker", ["-", " - ", "-1", " -1", "", "  ", b"-", b" -1 ", None])
def test_kaggle_empty_markers(marker):
    """contrails marks empty masks with ``-``: the Kaggle codec reads it (and ``-1``)."""
    np.testing.assert_array_equal(
        rlemask.decode(marker, (3, 4), format="kaggle"), np.zeros((3, 4), np.uint8)
    )
    assert rlemask.Runs.from_text(marker, (3, 4), format="kaggle").area == 0
    assert rlemask.merge([marker, "2 1"], (3, 4), format="kaggle").sum() == 1
    rlemask.get_format("kaggle").check_syntax(marker)
    assert rlemask.encode(np.zeros((3, 4), bool), format="kaggle") == ""  # written: ""


def test_empty_markers_are_the_formats_own():
    """``-`` is Kaggle's marker only: SIIM text ``-`` is malformed, as before."""
    with pytest.raises(RLEError, match=r"siim RLE: token 0 \('-'\) is not an integer"):
        rlemask.decode("-", (3, 4))
    with pytest.raises(RLEError, match="siim RLE: token 0"):
        rlemask.get_format("siim").check_syntax("-")
    with pytest.raises(RLEError, match=r"kaggle RLE: token 1 \('-'\) is not an integer"):
        rlemask.decode("1 -", (3, 4), format="kaggle")


def test_check_syntax_needs_no_shape():
    kaggle = rlemask.get_format("kaggle")
    kaggle.check_syntax("1 2 99999 3")  # past any small image: only decoding knows the shape
    with pytest.raises(RLEError, match=r"odd number of tokens \(3\)"):
        kaggle.check_syntax("1 2 3")
    with pytest.raises(RLEError, match=r"token 1 \('x'\) is not an integer"):
        kaggle.check_syntax("1 x")


def test_pairs_codec_rejects_bad_constants():
    with pytest.raises(ValueError, match="`base` must be 0 or 1; received base=2"):
        rlemask.PairsCodec("x", relative=False, base=2, empty="")
    with pytest.raises(ValueError, match="empty marker must be a str that is not pairs text"):
        rlemask.PairsCodec("x", relative=False, base=1, empty="1 1")
    with pytest.raises(TypeError, match=r"the 'siim' format takes no option order"):
        rlemask.decode("1 2", (3, 4), order="F")
    with pytest.raises(TypeError, match=r"'kaggle' format takes no option size \(its options: or"):
        rlemask.decode("1 2", (3, 4), format="kaggle", order="C", size=3)
    with pytest.raises(RLEError, match="starts are 1-based, must be >= 1"):
        rlemask.PairsCodec("r1", relative=True, base=1, empty="").decode_mask("0 1", (3, 4))


def test_warmup_compiles_a_registered_pairs_codec(clean_registry):
    """``warmup`` asks each codec which options to warm, so a new format needs no edit there."""
    seen = []

    class Spy(rlemask.PairsCodec):
        def encode_mask(self, mask, **options):
            seen.append(options)
            return super().encode_mask(mask, **options)

    rlemask.register_format("spy", Spy("spy", relative=False, base=0, empty="", order_option=True))
    rlemask.warmup()
    assert {} in seen and {"order": "C"} in seen


# ----------------------------------------------------------------- text that is not text
SURROGATE_TEXTS = ["\udc80", "1 2\udc80", "1 \udc80 2", "\ud800 1 2", "1 2 3 4\udfff"]


@pytest.mark.parametrize("fmt", sorted(formats_mod._BUILTIN) + ["pairs-plugin"])
@pytest.mark.parametrize("text", SURROGATE_TEXTS)
def test_lone_surrogate_is_an_rle_error_in_every_format(clean_registry, fmt, text):
    """A lone surrogate (text decoded with ``surrogateescape``) is an RLEError, not a
    UnicodeEncodeError, in every registered format, through every entry point."""
    rlemask.register_format("pairs-plugin", rlemask.PairsCodec("pairs-plugin", relative=False,
                                                               base=0, empty=""), replace=True)
    assert set(formats_mod._BUILTIN) <= set(rlemask.formats())
    inputs = [text]
    if fmt == "coco":
        inputs += [{"size": [4, 4], "counts": text}, text.encode("utf-8", "surrogatepass")]
    for rle in inputs:
        with pytest.raises(RLEError, match="surrogate|bad character") as err:
            rlemask.decode(rle, (4, 4), format=fmt)
        if isinstance(rle, str):
            assert "lone surrogate" in str(err.value) and "token" in str(err.value)
        with pytest.raises(RLEError):
            rlemask.Runs.from_text(rle, (4, 4), format=fmt)
        with pytest.raises(RLEError, match="item 1 of `rles`"):
            rlemask.merge([None, rle], (4, 4), format=fmt)
        check = getattr(rlemask.get_format(fmt), "check_syntax", None)
        if check is not None:
            with pytest.raises(RLEError):
                check(rle)


def test_labels_reader_checks_a_new_format_with_its_codec(clean_registry, tmp_path):
    """The CSV reader asks the codec (``check_syntax``): a new format needs no edit there."""
    rlemask.register_format("abs0", rlemask.PairsCodec("abs0", relative=False, base=0, empty=""))
    path = tmp_path / "labels.csv"
    path.write_text("ImageId,EncodedPixels\na,0 2\nb,\n")
    assert rlemask.read_rle_csv(path, format="abs0") == {"a": ["0 2"], "b": []}
    path.write_text("ImageId,EncodedPixels\na,0 2\nb,0 x\n")
    with pytest.raises(rlemask.LabelsFileError, match=r"line 3.*token 1 \('x'\)"):
        rlemask.read_rle_csv(path, format="abs0")
