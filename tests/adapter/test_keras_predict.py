"""predict_probabilities / predict_masks against the obvious computation, image by image."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

keras = pytest.importorskip("keras")

import rlemask  # noqa: E402
import rlemask_keras  # noqa: E402
from rlemask_keras.predict import model_probabilities  # noqa: E402

pytestmark = [pytest.mark.keras]


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    from rlemask.synthetic import make_dataset

    root = make_dataset(tmp_path_factory.mktemp("p"), 3, size=64, seed=2)
    return sorted(rlemask.load_siim(root)[0])


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    # different input sizes: each model sees the image at its own size
    return [rlemask_keras.unet((32, 32, 1), filters=2, depth=1),
            rlemask_keras.unet((16, 16, 3), filters=2, depth=1)]  # fmt: skip


def _expected(models, weights, path, tta):
    total = np.zeros((64, 64), np.float64)
    for model, weight in zip(models, weights, strict=True):
        size = model.input_shape[1]
        image = rlemask.load_sample(path, None, img_size=size)[0]
        x = np.repeat(image[None, ..., None], model.input_shape[-1], axis=-1)
        prob = np.asarray(model.predict_on_batch(x))[0, ..., 0]
        if tta == "flip":
            flipped = np.asarray(model.predict_on_batch(x[:, :, ::-1]))[0, :, ::-1, 0]
            prob = (prob + flipped) / 2
        full = rlemask.resize_image(prob.astype(np.float32), 64, method="bilinear")
        total += weight / sum(weights) * full
    return np.clip(total, 0, 1)


@pytest.mark.parametrize("tta", [None, "flip"])
def test_weighted_ensemble_of_different_sizes_is_the_average_at_full_size(models, paths, tta):
    weights = [1.0, 3.0]
    got = list(rlemask_keras.predict_probabilities(models, paths, tta=tta, batch_size=2,
                                                   weights=weights))  # fmt: skip
    assert [i for i, _ in got] == [p.stem for p in paths]
    for (_, prob), path in zip(got, paths, strict=True):
        assert prob.shape == (64, 64) and prob.dtype == np.float32
        np.testing.assert_allclose(prob, _expected(models, weights, path, tta), atol=2e-6)


def test_model_probabilities_flip_is_the_flipped_pass_flipped_back(models):
    rng = np.random.default_rng(1234)
    images = rng.random((2, 32, 32), dtype=np.float32)
    plain = model_probabilities(models[0], images)
    flipped = model_probabilities(models[0], images[:, :, ::-1])[:, :, ::-1]
    np.testing.assert_allclose(model_probabilities(models[0], images, tta="flip"),
                               (plain + flipped) / 2, atol=1e-6)  # fmt: skip


def test_predict_masks_scales_min_area_to_each_map():
    prob = np.zeros((256, 256), np.float32)
    prob[:10, :10] = 0.9  # 100 px above top: 1600 px at 1024 x 1024
    keep = dict(rlemask_keras.predict_masks([("a", prob)], (0.75, 1600, 0.3)))
    drop = dict(rlemask_keras.predict_masks([("a", prob)], (0.75, 1700, 0.3)))
    assert int(keep["a"].sum()) == 100 and int(drop["a"].sum()) == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": [1.0]}, "`weights`"),
        ({"weights": [1.0, -1.0]}, "`weights`"),
        ({"weights": [0.0, 0.0]}, "`weights`"),
        ({"batch_size": 0}, "`batch_size`"),
        ({"tta": "rotate"}, "`tta`"),
    ],
)
def test_bad_arguments_name_the_parameter(models, paths, kwargs, match):
    with pytest.raises(ValueError, match=match):
        next(rlemask_keras.predict_probabilities(models, paths, **kwargs))


# -- post-processing at the model's size (predict --resolution model) ----------


@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0, 30, 2000, 10**6]),
)
@settings(max_examples=60, deadline=None)
def test_upscaled_runs_are_the_dense_path_exactly(h, w, oh, ow, seed, area):
    import reference_geometry as ref

    from rlemask_keras.predict import upscaled_runs

    prob = np.random.default_rng(seed).random((h, w), dtype=np.float32)
    top, bottom = 0.75, 0.3
    runs = upscaled_runs(prob, (oh, ow), (top, area, bottom))
    # the obvious computation: triplet at the map's size (min_area scaled to it),
    # every output pixel takes the input pixel under its centre
    small = ref.triplet_threshold(prob, top, rlemask.scale_min_area(area, (h, w)), bottom)
    expected = ref.resize_mask_nearest(np.asarray(small, np.uint8), oh, ow)
    assert runs.shape == (oh, ow)
    np.testing.assert_array_equal(runs.to_mask(), expected)
    assert runs.to_text("siim") == rlemask.encode(expected)


@pytest.mark.parametrize("tta", [None, "flip"])
def test_predict_at_model_resolution_writes_the_dense_path(tmp_path, models, paths, tta):
    from rlemask_keras.predict import load_keras_model, predict

    same = [models[0], rlemask_keras.unet((32, 32, 3), filters=2, depth=1)]
    files = []
    for i, model in enumerate(same):
        files.append(tmp_path / f"m{i}.keras")
        model.save(files[-1])
    triplet = (0.5, 50, 0.45)  # random weights: probabilities near 0.5
    out = tmp_path / "sub.csv"
    data = paths[0].parents[3]  # the data set's root
    predict(files, data, out, tta=tta, weights=[1.0, 3.0], triplet=triplet,
            resolution="model", progress=False, log=lambda *a: None)  # fmt: skip
    rows = rlemask.read_rle_csv(out)  # {id: [rle]}, [] for -1
    assert any(rows.values())  # masks to compare (empty ones: the hypothesis test above)
    loaded = [load_keras_model(f) for f in files]
    for path in paths:
        image = rlemask.load_sample(path, None, img_size=32)[0][None]
        small = sum(w / 4 * model_probabilities(m, image, tta=tta)[0]
                    for m, w in zip(loaded, [1.0, 3.0], strict=True))  # fmt: skip
        mask = rlemask.triplet_threshold(
            np.clip(small, 0, 1).astype(np.float32), 0.5, rlemask.scale_min_area(50, (32, 32)), 0.45
        )
        full = rlemask.resize_mask(mask, (64, 64))
        assert rows[path.stem] == [rlemask.encode(full)][: int(full.any())], path.stem


def test_model_resolution_needs_one_input_size(models, paths):
    with pytest.raises(ValueError, match="one input size"):
        next(rlemask_keras.predict_runs(models, paths))


# -- what predict refuses or reports (issue 19: 4, 9, 20) -----------------------------------


def test_files_of_one_name_in_two_folders_are_never_dropped_silently(tmp_path, capsys):
    """Issue 19.4: 3 DICOMs gave 2 rows without a word; load_siim warned about the layout."""
    import shutil
    import warnings

    from rlemask.synthetic import make_dataset
    from rlemask_keras.cli import main
    from rlemask_keras.predict import predict

    root = make_dataset(tmp_path / "d", 3, size=64, seed=0)
    paths = sorted(rlemask.load_siim(root)[0])
    (root / "siteB").mkdir()
    twin = root / "siteB" / paths[0].name  # another image under the same file name
    shutil.copy(paths[1], twin)
    model_path = tmp_path / "m.keras"
    rlemask_keras.unet((32, 32, 1), filters=2, depth=1).save(model_path)
    with pytest.warns(UserWarning) as caught:
        result = predict(model_path, root, tmp_path / "sub.csv", triplet=(0.5, 0, 0.5),
                         progress=False, log=lambda *a: None)  # fmt: skip
    message = next(str(w.message) for w in caught if "duplicate" in str(w.message))
    with warnings.catch_warnings(record=True) as siim:
        warnings.simplefilter("always")
        rlemask.load_siim(root)
    theirs = next(str(w.message) for w in siim if "duplicate" in str(w.message))
    assert message.startswith(theirs)  # the same rule and message as load_siim
    dropped = rlemask.datasets.find_dicoms(root, exclude=())[1][paths[0].stem]
    assert dropped[0] in (twin, paths[0]) and str(dropped[0]) in message  # named, not predicted
    assert result["n_images"] == 3 == len(rlemask.read_rle_csv(tmp_path / "sub.csv"))
    capsys.readouterr()
    argv = ["predict", str(model_path), str(root), "--out", str(tmp_path / "s.csv"), "--quiet",
            "--thresholds", "0.5,0,0.5"]  # fmt: skip
    assert main(argv) == 0
    assert f"rlemask-keras predict: warning: {theirs}" in capsys.readouterr().err


def _two_channel_softmax():
    inp = keras.Input((16, 16, 1))
    logits = keras.layers.Conv2D(2, 1)(inp)
    return keras.Model(inp, keras.layers.Softmax()(logits))


def test_a_model_whose_output_predict_does_not_understand_is_refused(tmp_path):
    """Issue 19.9: channel 0 of a 2-class softmax (the background) was taken silently."""
    from rlemask_keras.predict import check_model_output, load_keras_model

    x = np.zeros((1, 16, 16), np.float32)
    with pytest.raises(ValueError, match="outputs 2 channels; prediction understands one"):
        model_probabilities(_two_channel_softmax(), x)
    _two_channel_softmax().save(tmp_path / "two.keras")
    with pytest.raises(ValueError, match="two.keras' outputs 2 channels"):
        load_keras_model(tmp_path / "two.keras")
    inp = keras.Input((16, 16, 1))
    one = keras.Model(inp, keras.layers.Conv2D(1, 1, activation="softmax")(inp))
    with pytest.raises(ValueError, match="softmax"):
        check_model_output(one)
    with pytest.raises(ValueError, match="outputs 3 channels"):
        check_model_output(rlemask_keras.unet((16, 16, 1), filters=2, depth=1, classes=3))
    check_model_output(rlemask_keras.unet((16, 16, 1), filters=2, depth=1))  # understood


def test_progress_is_plain_lines_when_not_a_terminal(tmp_path, paths, capsys):
    """Issue 19.20 (adapter): tqdm's \\r redraws filled redirected logs."""
    from rlemask_keras.predict import predict

    model_path = tmp_path / "m.keras"
    rlemask_keras.unet((32, 32, 1), filters=2, depth=1).save(model_path)
    root = paths[0].parents[2]  # the data set: its images lie two folders down
    predict(model_path, root, tmp_path / "sub.csv", progress=True, log=lambda *a: None)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.strip().splitlines()[-1].startswith(f"predict: {len(paths)}/{len(paths)} img")


def test_the_two_resolutions_follow_their_documented_rule():
    """Issue 19.8: the docs said edges only; whole masks differ near the thresholds.

    The rule, as documented: ``model`` is the triplet at the model's size then
    nearest up; ``image`` the triplet on the bilinear map.  A one-pixel peak
    above ``top`` keeps a region at model size that the bilinear map drops.
    """
    from rlemask_keras import predict as module
    from rlemask_keras.predict import upscaled_runs

    prob = np.zeros((32, 32), np.float32)
    prob[8:24, 8:24] = 0.35
    prob[16, 16] = 0.9
    triplet = (0.7, 1024, 0.3)
    model_path = upscaled_runs(prob, (64, 64), triplet)
    (_, image_path), = module.predict_masks(
        [("a", rlemask.resize_image(prob, (64, 64), method="bilinear"))], triplet)  # fmt: skip
    assert model_path.area == 1024 and int(image_path.sum()) == 0
    # ... and the documentation says so, where users read it
    for text in (module.__doc__, module.predict.__doc__):
        assert "whole" in text and "near the thresholds" in " ".join(text.split())
