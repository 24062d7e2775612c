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
def clean_registry(monkeypatch):
    monkeypatch.setattr(formats_mod, "_registry", dict(formats_mod._registry))
    monkeypatch.setattr(formats_mod, "_entry_points", None)


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
