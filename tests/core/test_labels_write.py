"""write_labels: every layout round-trips through read_labels; what cannot read back is refused."""

from __future__ import annotations

import numpy as np
import pytest
import reference_rle as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rlemask
from rlemask import RLEError

LAYOUTS = ("single", "long", "wide")


@st.composite
def stacks(draw):
    """``{id: (C, H, W) 0/1 masks}`` with a few images, some empty."""
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    c = draw(st.integers(1, 3))
    n = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    ids = draw(st.lists(st.text("abc.xyz-0123456789", min_size=1, max_size=6), min_size=n,
                        max_size=n, unique=True))
    return {i: (rng.random((c, h, w)) < density).astype(np.uint8) for i in ids}, (h, w)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=stacks(), layout=st.sampled_from(LAYOUTS), fmt=st.sampled_from(["kaggle", "siim"]),
       objects=st.booleans())
def test_round_trip_every_layout(tmp_path, data, layout, fmt, objects):
    masks, shape = data
    if layout == "single":
        masks = {k: v[:1] for k, v in masks.items()}
        source = {k: v[0] for k, v in masks.items()}
    else:
        source = masks
    p = tmp_path / f"{layout}.csv"
    rlemask.write_labels(p, source, layout=layout, format=fmt, objects=objects)
    labels = rlemask.read_labels(p, shape=shape, format=fmt)
    assert labels.layout == layout and labels.ids == tuple(masks)
    n_classes = next(iter(masks.values())).shape[0]
    assert labels.classes == (() if layout == "single" else tuple(str(c + 1)
                                                                  for c in range(n_classes)))
    for image_id, want in masks.items():
        np.testing.assert_array_equal(labels.masks(image_id), want)
        # every written row is the reference's text of that row's runs
        for cls in labels.classes or (None,):
            for text in labels.rles(image_id, cls):
                enc = ref.siim_encode if fmt == "siim" else ref.kaggle_encode
                dec = ref.siim_decode if fmt == "siim" else ref.kaggle_decode
                assert enc(dec(text, shape)) == text
    if objects:  # one row per connected region: rows of one image and class never overlap
        for image_id in masks:
            for cls in labels.classes or (None,):
                parts = labels.objects(image_id, cls)
                assert sum(r.area for r in parts) == int(labels.mask(image_id, cls).sum())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_labels_rewritten_in_every_layout(tmp_path, layout):
    src = tmp_path / "src.csv"
    src.write_text("ImageId,ClassId,EncodedPixels\na,x,1 2\na,y,\nb,x,\nb,y,3 2 7 1\n")
    labels = rlemask.read_labels(src, shape=(3, 3))
    out = tmp_path / "out.csv"
    if layout == "single":
        with pytest.raises(ValueError, match=r"layout='single' holds one class.*'long' or"):
            rlemask.write_labels(out, labels, layout=layout)
        return
    rlemask.write_labels(out, labels, layout=layout)
    back = rlemask.read_labels(out, shape=(3, 3))
    assert back.ids == labels.ids and back.classes == labels.classes
    for image_id in labels.ids:
        np.testing.assert_array_equal(back.masks(image_id), labels.masks(image_id))


def test_labels_converted_to_siim_and_to_objects(tmp_path, real_dir):
    labels = rlemask.read_labels(real_dir / "airbus/train_ship_segmentations_v2.sample.csv",
                                 shape=(768, 768))
    out = tmp_path / "siim.csv"
    rlemask.write_labels(out, labels, format="siim", objects=True, columns={"id": "fname"})
    assert out.read_text().startswith("fname,EncodedPixels\n")
    back = rlemask.read_labels(out, shape=(768, 768))
    assert back.format == "siim" and back.ids == labels.ids
    busy = "0a1a7f395.jpg"
    assert len(back.rles(busy)) == len(labels.rles(busy)) == 14  # one row per ship, kept
    np.testing.assert_array_equal(back.mask(busy), labels.mask(busy))
    assert back.rles("0a00a69de.jpg") == [] and "0a00a69de.jpg,-1" in out.read_text()


def test_empty_rows_get_the_format_marker(tmp_path):
    p = tmp_path / "e.csv"
    rlemask.write_labels(p, {"a": None, "b": np.zeros((2, 2), np.uint8)}, format="siim")
    assert p.read_text() == "ImageId,EncodedPixels\na,-1\nb,-1\n"
    rlemask.write_labels(p, {"a": [], "b": ""}, columns={"id": "id", "rle": "predicted"})
    assert p.read_text() == "id,predicted\na,\nb,\n"


def test_a_competition_s_own_empty_marker(tmp_path):
    """Contrails marks an empty mask '-' in Kaggle text: written when asked, read back empty."""
    p = tmp_path / "contrails.csv"
    one = np.zeros((4, 4), np.uint8)
    one[1, 1] = 1
    rlemask.write_labels(p, {"a": None, "b": one}, empty="-",
                         columns={"id": "record_id", "rle": "encoded_pixels"})
    assert p.read_text() == "record_id,encoded_pixels\na,-\nb,6 1\n"
    back = rlemask.read_labels(p, shape=(4, 4))
    assert back.rles("a") == [] and back.rles("b") == ["6 1"]
    with pytest.raises(ValueError, match=r"`empty` must be a marker that format='siim' reads"):
        rlemask.write_labels(p, {"a": None}, format="siim", empty="-")
    assert p.read_text().startswith("record_id")  # the refused call left the file as it was


@pytest.mark.parametrize(
    ("masks", "error", "message"),
    [
        ({"a": "1 2 3"}, RLEError, r"labels\['a'\]: .*odd number of tokens"),
        ({"a": "garbage"}, RLEError, r"labels\['a'\]: .*'garbage'"),
        ({"a": "5 1 1 1"}, RLEError, "go backwards or overlap"),
        ({"": "1 2"}, ValueError, "empty id"),
        ({"  ": "1 2"}, ValueError, "empty id"),
        ({" a": "1 2"}, ValueError, "surrounding spaces"),
        ({"cr\rid": "1 2"}, ValueError, "line break"),
        ({1: "1 2", "1": "3 1"}, ValueError, "two ids that are both '1'"),
        ({"a": 3.5}, TypeError, r"labels\['a'\] must be a 2-D mask"),
    ],
)
def test_refuses_what_would_not_read_back(tmp_path, masks, error, message):
    p = tmp_path / "s.csv"
    with pytest.raises(error, match=message):
        rlemask.write_labels(p, masks)
    assert not p.exists()  # nothing written


def test_bad_arguments(tmp_path):
    p = tmp_path / "s.csv"
    with pytest.raises(ValueError, match="`layout` must be one of"):
        rlemask.write_labels(p, {}, layout="tall")
    with pytest.raises(ValueError, match="layout='long' needs a class per row"):
        rlemask.write_labels(p, {"a": np.zeros((2, 2), np.uint8)}, layout="long")
    with pytest.raises(ValueError, match="classes must not contain '_'"):
        rlemask.write_labels(p, {"a": np.zeros((1, 2, 2), np.uint8)}, layout="wide",
                             classes=["x_y"])
    with pytest.raises(TypeError, match="`labels` must be a Labels or a mapping"):
        rlemask.write_labels(p, ["a"])
    with pytest.raises(ValueError, match="unknown RLE format"):
        rlemask.write_labels(p, {}, format="nope")
