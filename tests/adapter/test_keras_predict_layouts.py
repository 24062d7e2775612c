"""predict_folder and ``rlemask-keras predict --competition``: layouts against the obvious.

Multi-class rows are each class's triplet (and presence gate) on the model's
map, decoded back; instance rows are the connected regions (skimage's 8-connected
labelling); tiles equal the dense path for a model that sees one pixel at a time;
TTA passes are the transformed predictions transformed back, computed by hand.
The chains in fresh processes (synth -> train -> predict -> check -> score, every
kind) are in tests/adapter/test_keras_kinds.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import reference_geometry as ref  # noqa: E402
import reference_rle as ref_rle  # noqa: E402

import rlemask  # noqa: E402
import rlemask_keras  # noqa: E402
from rlemask.synthetic_kinds import make_kind  # noqa: E402
from rlemask_keras import run_folder  # noqa: E402
from rlemask_keras.predict import model_outputs  # noqa: E402
from rlemask_keras.predict_folder import predict_folder  # noqa: E402

pytestmark = [pytest.mark.keras]

SEVERSTAL = "severstal-steel-defect-detection"
AIRBUS = "airbus-ship-detection"
QUIET = {"progress": False, "log": lambda *a: None}


def _bright_model(channels: int = 1):
    """A model of one pixel at a time: probability > 0.5 exactly where the pixel is > 0.5."""
    inp = keras.Input((None, None, channels))
    out = keras.layers.Conv2D(
        1, 1, activation="sigmoid",
        kernel_initializer=keras.initializers.Constant(20.0 / channels),
        bias_initializer=keras.initializers.Constant(-10.0),
    )(inp)
    return keras.Model(inp, out)


def _run(tmp_path, model, postprocess=None, name="run"):
    """A minimal run folder: model.keras and a report.json that describes it."""
    out = tmp_path / name
    out.mkdir()
    path = out / run_folder.MODEL
    run_folder.save_model(model, path)
    report = {"model": {"sha256": run_folder.model_digest(path)}}
    if postprocess is not None:
        report["postprocess"] = postprocess
    (out / run_folder.REPORT_JSON).write_text(json.dumps(report), encoding="utf-8")
    return path


def _image(path):
    """The image as the model sees it at its own size: grey 0..1 (an independent read)."""
    return rlemask.read_image(path).astype(np.float32) / 255


def _level(values) -> float:
    """A threshold near the median, halfway across the widest gap between the central values.

    An untrained model's probabilities crowd around one value; a threshold on
    a pixel's own value would split it by float rounding (one batch or
    another), so the one chosen stays as far as it can from every pixel.
    """
    v = np.sort(np.asarray(values, np.float64).ravel())
    lo, hi = int(len(v) * 0.4), int(len(v) * 0.6)
    gaps = np.diff(v[lo:hi + 1])
    k = int(np.argmax(gaps))
    return float((v[lo + k] + v[lo + k + 1]) / 2)


@pytest.fixture(scope="module")
def severstal(tmp_path_factory):
    root = tmp_path_factory.mktemp("sev")
    make_kind(root, "severstal", n_images=3, overwrite=True, size=(32, 96), seed=1)
    return root


def test_multi_class_rows_are_each_class_triplet_and_gate(tmp_path, severstal):
    keras.utils.set_random_seed(3)
    model = rlemask_keras.unet((None, None, 1), filters=2, depth=1, classes=4, classifier=True)
    images = sorted((severstal / "train_images").glob("*.jpg"))
    # one batch of the three, as predict_folder's batch_size=16 sends them (float rounding
    # depends on the batch: the same call gives the same bits)
    masks, presence = model_outputs(model, np.stack([_image(p) for p in images])[..., None])
    maps = {p.name: (masks[i : i + 1], presence[i : i + 1]) for i, p in enumerate(images)}
    level = _level(np.concatenate([m[0].ravel() for m, _ in maps.values()]))
    rules = {  # class 2 gated away everywhere, class 3 never; the others by area
        "1": {"top": level, "min_area": 0, "bottom": level, "gate": None},
        "2": {"top": level, "min_area": 0, "bottom": level, "gate": 1.0},
        "3": {"top": level, "min_area": 0, "bottom": level - 0.01, "gate": 0.0},
        "4": {"top": level + 0.02, "min_area": 500, "bottom": level, "gate": None},
    }
    path = _run(tmp_path, model, {"classes": list(rules), "per_class": rules,
                                  "competition": SEVERSTAL})  # fmt: skip
    out = tmp_path / "sub.csv"
    result = predict_folder(path, severstal, out, competition=SEVERSTAL, **QUIET)
    assert result["n_images"] == 3 and result["n_rows"] == 12
    assert out.read_text().splitlines()[0] == "ImageId_ClassId,EncodedPixels"
    labels = rlemask.read_labels(out, format="kaggle")
    assert labels.layout == "wide" and set(labels.ids) == set(maps)  # ids keep '.jpg'
    for image_id, (masks, presence) in maps.items():
        shape = masks.shape[1:3]
        for c, (cls, rule) in enumerate(rules.items()):
            area = rlemask.scale_min_area(rule["min_area"], shape)
            expected = ref.triplet_threshold(masks[0, ..., c], rule["top"], area, rule["bottom"])
            if rule["gate"] is not None and presence[0, c] < rule["gate"]:
                expected = np.zeros(shape, np.uint8)
            got = labels.mask(image_id, cls, shape=shape)
            np.testing.assert_array_equal(got, expected, err_msg=f"{image_id} class {cls}")
    assert not any(labels.rles(i, "2") for i in maps)  # the gate emptied class 2
    assert rlemask.check_submission(out, competition=SEVERSTAL) == []


def test_instance_rows_are_the_connected_regions_and_never_overlap(tmp_path):
    from skimage.measure import label

    make_kind(tmp_path / "air", "airbus", n_images=4, size=48, seed=5)
    path = _run(tmp_path, _bright_model(), {"classes": ["1"], "per_class": {
        "1": {"top": 0.5, "min_area": 0, "bottom": 0.5, "gate": None}}})  # fmt: skip
    out = tmp_path / "sub.csv"
    predict_folder(path, tmp_path / "air", out, competition=AIRBUS, **QUIET)
    rows = {}
    for line in out.read_text().splitlines()[1:]:
        image_id, rle = line.split(",")
        rows.setdefault(image_id, []).append(rle)
    images = sorted((tmp_path / "air" / "train_v2").glob("*.jpg"))
    assert sorted(rows) == [p.name for p in images]
    n_regions = 0
    for p in images:
        truth = (_image(p) > 0.5).astype(np.uint8)
        regions = label(truth, connectivity=2)
        expected = sorted(ref_rle.kaggle_encode((regions == k).astype(np.uint8))
                          for k in range(1, regions.max() + 1))  # fmt: skip
        got = sorted(r for r in rows[p.name] if r)
        assert got == expected, p.name
        n_regions += len(expected)
    assert n_regions > len(images)  # objects were split into rows
    assert rlemask.check_submission(out, competition=AIRBUS) == []
    # the same rows without the competition: a single layout of objects, ids by name
    plain = tmp_path / "plain.csv"
    predict_folder(path, tmp_path / "air", plain, objects=True, image_id="name", **QUIET)
    assert plain.read_text() == out.read_text()


def test_tiles_equal_the_dense_path_for_a_model_of_one_pixel(tmp_path):
    import tifffile

    rng = np.random.default_rng(7)
    (tmp_path / "slides").mkdir()
    image = (rng.random((90, 70)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "slides" / "k1.tiff", image, tile=(16, 16))
    path = _run(tmp_path, _bright_model(), {"classes": ["1"], "per_class": {
        "1": {"top": 0.5, "min_area": 0, "bottom": 0.5, "gate": None}}})  # fmt: skip
    dense, tiled = tmp_path / "dense.csv", tmp_path / "tiled.csv"
    comp = "hubmap-kidney-segmentation"
    predict_folder(path, tmp_path / "slides", dense, competition=comp, **QUIET)
    predict_folder(path, tmp_path / "slides", tiled, competition=comp, tile=32, overlap=8,
                   batch_size=3, **QUIET)  # fmt: skip
    assert tiled.read_text() == dense.read_text()
    row = dense.read_text().splitlines()[1]
    expected = ref_rle.kaggle_encode((image > 127.5).astype(np.uint8))
    assert row.startswith("k1,") and row[3:] == expected


def _by_hand(model, x, passes):
    """The mean of each pass's prediction turned back, one image and one symmetry at a time."""
    total = np.zeros(x.shape[:3] + (1,), np.float64)
    for k, flip in passes:
        for b in range(x.shape[0]):
            img = np.flip(x[b], axis=1) if flip else x[b]
            img = np.rot90(img, k)
            pred = np.asarray(model.predict_on_batch(np.ascontiguousarray(img)[None]))[0]
            pred = np.rot90(pred, -k)
            total[b] += np.flip(pred, axis=1) if flip else pred
    return total / len(passes)


@pytest.mark.parametrize("tta, passes", [
    ("hflip", [(0, False), (0, True)]),
    ("flips", [(0, False), (0, True), (2, False), (2, True)]),
    ("d4", [(k, f) for k in range(4) for f in (False, True)]),
])  # fmt: skip
def test_tta_is_the_mean_of_the_symmetric_passes_turned_back(tta, passes):
    keras.utils.set_random_seed(1)
    model = rlemask_keras.unet((None, None, 1), filters=2, depth=1)
    x = np.random.default_rng(0).random((2, 12, 16, 1), dtype=np.float32)
    got, presence = model_outputs(model, x, tta=tta)
    assert presence is None and got.shape == (2, 12, 16, 1)
    np.testing.assert_allclose(got, _by_hand(model, x, passes), atol=1e-6)


def test_tta_quarter_turns_need_a_square_or_any_size_input():
    model = rlemask_keras.unet((16, 32, 1), filters=2, depth=1)
    with pytest.raises(ValueError, match="`tta`='d4' turns images by 90 degrees"):
        model_outputs(model, np.zeros((1, 16, 32, 1), np.float32), tta="d4")
    model_outputs(model, np.zeros((1, 16, 32, 1), np.float32), tta="flips")


def test_what_predict_does_not_understand_is_refused(tmp_path, severstal):
    inp = keras.Input((None, None, 1))
    softmax = keras.Model(inp, keras.layers.Conv2D(4, 1, activation="softmax")(inp))
    with pytest.raises(ValueError, match="ends in a softmax over its 4 channel"):
        predict_folder(_run(tmp_path, softmax, name="s"), severstal, tmp_path / "x.csv",
                       competition=SEVERSTAL, **QUIET)  # fmt: skip
    mask = keras.layers.Conv2D(4, 1, activation="sigmoid")(inp)
    heads = {"mask": mask, "edges": keras.layers.Conv2D(1, 1)(inp)}
    with pytest.raises(ValueError, match=r"not \['edges'\]"):
        predict_folder(_run(tmp_path, keras.Model(inp, heads), name="h"), severstal,
                       tmp_path / "x.csv", competition=SEVERSTAL, **QUIET)  # fmt: skip
    three = rlemask_keras.unet((None, None, 1), filters=2, depth=1, classes=3)
    with pytest.raises(ValueError, match="predict 3 classes; severstal-steel-defect-detection"):
        predict_folder(_run(tmp_path, three, name="t"), severstal, tmp_path / "x.csv",
                       competition=SEVERSTAL, **QUIET)  # fmt: skip
    four = _run(tmp_path, rlemask_keras.unet((None, None, 1), filters=2, depth=1, classes=4),
                name="f")  # fmt: skip
    with pytest.raises(ValueError, match="'single' holds one class"):
        predict_folder(four, severstal, tmp_path / "x.csv", layout="single", **QUIET)
    report = json.loads((four.parent / run_folder.REPORT_JSON).read_text())
    report["model"]["sha256"] = "0" * 64
    (four.parent / run_folder.REPORT_JSON).write_text(json.dumps(report))
    with pytest.raises(ValueError, match="describes another model"):
        predict_folder(four, severstal, tmp_path / "x.csv", competition=SEVERSTAL, **QUIET)
    assert not (tmp_path / "x.csv").exists()


def test_old_single_class_reports_give_every_class_their_triplet(tmp_path, severstal):
    path = _run(tmp_path, _bright_model())
    report = json.loads((path.parent / run_folder.REPORT_JSON).read_text())
    report["thresholds"] = {"top": 0.5, "min_area_1024": 0, "bottom": 0.5}
    (path.parent / run_folder.REPORT_JSON).write_text(json.dumps(report))
    out = tmp_path / "sub.csv"
    predict_folder(path, severstal / "train_images", out, layout="long", format="kaggle",
                   pattern="*.jpg", image_id="stem", **QUIET)  # fmt: skip
    labels = rlemask.read_labels(out, format="kaggle")
    assert labels.layout == "long" and labels.classes == ("1",)
    for p in sorted((severstal / "train_images").glob("*.jpg")):
        expected = (_image(p) > 0.5).astype(np.uint8)
        np.testing.assert_array_equal(labels.mask(p.stem, "1", shape=expected.shape), expected)


def test_a_train_report_of_one_class_and_its_padding_policy(tmp_path):
    """train's report of a single-class run ({"classes": [], "per_class": {"": ...}}) and
    config.json's ``policy="pad"``: each image zero-padded (centred) to a multiple of
    ``img_size``, predicted, cut back."""
    make_kind(tmp_path / "air", "airbus", n_images=2, size=48, seed=2)
    keras.utils.set_random_seed(4)
    model = rlemask_keras.unet((None, None, 1), filters=2, depth=1)
    images = sorted((tmp_path / "air" / "train_v2").glob("*.jpg"))
    # 48 -> 64: 8 pixels of zeros on each side; one batch, as predict_folder sends them
    padded = np.stack([np.pad(_image(p), 8) for p in images])[..., None]
    out = np.asarray(model.predict_on_batch(padded))[:, 8:56, 8:56, 0]
    probs = {p.name: out[i] for i, p in enumerate(images)}
    level = _level(np.concatenate([v.ravel() for v in probs.values()]))
    rule = {"top": level, "min_area": 40, "bottom": level, "gate": None}
    path = _run(tmp_path, model, {"classes": [], "per_class": {"": rule},
                                  "competition": None, "reference": 1024})  # fmt: skip
    (path.parent / run_folder.CONFIG).write_text(json.dumps({"img_size": 32, "policy": "pad"}))
    out = tmp_path / "sub.csv"
    predict_folder(path, tmp_path / "air", out, image_id="name", **QUIET)
    labels = rlemask.read_labels(out, format="kaggle")
    assert labels.layout == "single" and labels.n_rows == 2
    area = rlemask.scale_min_area(40, (48, 48))
    for image_id, prob in probs.items():
        expected = ref.triplet_threshold(prob, level, area, level)
        np.testing.assert_array_equal(labels.mask(image_id, shape=(48, 48)), expected)


def test_deep_supervision_with_a_head_predicts_its_deepest_mask():
    keras.utils.set_random_seed(2)
    model = rlemask_keras.unet_plus_plus((16, 16, 1), filters=2, depth=2, classes=2,
                                         deep_supervision=True, classifier=True)  # fmt: skip
    x = np.random.default_rng(3).random((1, 16, 16, 1), dtype=np.float32)
    raw = model.predict_on_batch(x)
    masks, presence = model_outputs(model, x)
    np.testing.assert_allclose(masks, np.asarray(raw["out2"]), atol=1e-6)
    np.testing.assert_allclose(presence, np.asarray(raw["presence"]), atol=1e-6)


def test_the_command_names_its_flags(tmp_path, severstal, capsys):
    from rlemask_keras.cli import main

    four = _run(tmp_path, rlemask_keras.unet((None, None, 1), filters=2, depth=1, classes=4))
    base = ["predict", str(four), str(severstal), "--out", str(tmp_path / "x.csv"), "--quiet"]
    cases = [
        (["--competition", SEVERSTAL, "--layout", "long"],
         f"--layout='long' is not {SEVERSTAL}'s ('wide'); give --competition or --layout"),
        (["--competition", AIRBUS], f"{AIRBUS} is single-class; the models predict 4 classes"),
        (["--layout", "wide", "--resolution", "model"], "--resolution='model' is the DICOM"),
        (["--layout", "wide", "--pattern", "*.png"], "DATA: no image files under"),
        (["--layout", "wide", "--format", "rle8"], "--format: unknown RLE format 'rle8'"),
    ]  # fmt: skip
    for extra, message in cases:
        assert main(base + extra) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_an_ensemble_is_the_weighted_mean_of_its_models_at_each_image_size(tmp_path, severstal):
    """Two models of different input sizes: each map brought to the image, then averaged."""
    keras.utils.set_random_seed(6)
    small = rlemask_keras.unet((16, 48, 1), filters=2, depth=1, classes=4)
    whole = rlemask_keras.unet((None, None, 3), filters=2, depth=1, classes=4)
    images = sorted((severstal / "train_images").glob("*.jpg"))
    grey = np.stack([_image(p) for p in images])[..., None]
    at_16 = np.stack([rlemask.load_sample(p, None, img_size=(16, 48))[0] for p in images])
    a = np.asarray(small.predict_on_batch(at_16[..., None]))
    b = np.asarray(whole.predict_on_batch(np.repeat(grey, 3, axis=-1)))
    expected = {}
    for i, p in enumerate(images):  # 16 x 48 -> 32 x 96: bilinear, as training samples map back
        up = np.stack([ref.resize_image_bilinear(a[i, ..., c], 32, 96) for c in range(4)], -1)
        expected[p.name] = 0.25 * up + 0.75 * b[i]
    level = _level(np.concatenate([v.ravel() for v in expected.values()]))
    paths = [_run(tmp_path, m, name=n) for m, n in ((small, "s"), (whole, "w"))]
    out = tmp_path / "sub.csv"
    predict_folder(paths, severstal, out, competition=SEVERSTAL, weights=[1, 3],
                   triplet=(level, 0, level), **QUIET)  # fmt: skip
    labels = rlemask.read_labels(out, format="kaggle")
    for image_id, prob in expected.items():
        for c, cls in enumerate("1234"):
            got = labels.mask(image_id, cls, shape=(32, 96))
            wrong = got != (prob[..., c] > level)
            assert wrong.sum() <= 2, (image_id, cls, int(wrong.sum()))  # float rounding only


def test_reports_that_do_not_fit_the_prediction_are_refused(tmp_path, severstal):
    rule = {"top": 0.5, "min_area": 0, "bottom": 0.5, "gate": None}
    model = rlemask_keras.unet((None, None, 1), filters=2, depth=1, classes=4)
    two = _run(tmp_path, model, {"classes": ["a", "b"], "per_class": {"a": rule, "b": rule}},
               name="two")  # fmt: skip
    with pytest.raises(ValueError, match=r"classes \['a', 'b'\]; the prediction has 4 classes"):
        predict_folder(two, severstal, tmp_path / "x.csv", competition=SEVERSTAL, **QUIET)
    names = ["1", "2", "3", "4"]
    runs = [_run(tmp_path, model, {"classes": names, "per_class": {
        n: {**rule, "top": top} for n in names}}, name=f"r{top}") for top in (0.5, 0.6)]
    with pytest.raises(ValueError, match="chose different post-processing; pass `triplet`"):
        predict_folder(runs, severstal, tmp_path / "x.csv", competition=SEVERSTAL, **QUIET)
    bad = _run(tmp_path, model, {"classes": names, "per_class": {
        n: {**rule, "gate": 2.0} for n in names}}, name="gate")  # fmt: skip
    with pytest.raises(ValueError, match="class '1' has gate=2.0, not in 0..1"):
        predict_folder(bad, severstal, tmp_path / "x.csv", competition=SEVERSTAL, **QUIET)
    # --thresholds settles the disagreement (the gates, none here, are dropped with it)
    predict_folder(runs, severstal, tmp_path / "x.csv", competition=SEVERSTAL,
                   triplet=(0.5, 0, 0.5), **QUIET)  # fmt: skip
    assert (tmp_path / "x.csv").is_file()


def test_tiles_gate_a_class_on_its_largest_presence_over_the_tiles(tmp_path):
    import tifffile

    (tmp_path / "slides").mkdir()
    image = (np.random.default_rng(8).random((64, 80)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "slides" / "k2.tiff", image, tile=(16, 16))
    keras.utils.set_random_seed(5)
    model = rlemask_keras.unet((None, None, 1), filters=2, depth=1, classifier=True)
    grid = list(rlemask.TileWriter((64, 80), tile=32, overlap=8).windows())
    windows = [image[y : y + h, x : x + w] for y, x, h, w in grid]
    batch = np.stack(windows).astype(np.float32)[..., None] / 255
    largest = float(np.asarray(model.predict_on_batch(batch)["presence"]).max())
    rows = {}
    for gate in (None, largest - 1e-4, largest + 1e-4):
        rule = {"top": 0.5, "min_area": 0, "bottom": 0.5, "gate": gate}
        path = _run(tmp_path, model, {"classes": [], "per_class": {"": rule}}, name=str(gate))
        out = tmp_path / f"{gate}.csv"
        predict_folder(path, tmp_path / "slides", out, competition="hubmap-kidney-segmentation",
                       tile=32, overlap=8, batch_size=len(grid), **QUIET)  # fmt: skip
        rows[gate] = out.read_text().splitlines()[1]
    assert rows[None] != "k2," and rows[largest - 1e-4] == rows[None]
    assert rows[largest + 1e-4] == "k2,"  # every tile below the gate: emptied


def test_a_competition_s_empty_marker_is_written():
    """Contrails' empty rows are '-', not the Kaggle format's blank."""
    from rlemask_keras.predict_folder import output_spec

    assert output_spec("google-research-identify-contrails-reduce-global-warming").empty == "-"
    assert output_spec("airbus-ship-detection").empty is None  # the format's own (blank)
    assert output_spec(layout="single", format="kaggle").empty is None
