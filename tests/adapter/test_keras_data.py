"""DataGenerator: batching, dtypes, order, schedule, augmentation, alignment with the RLE."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import rlemask  # noqa: E402
from rlemask_keras import DataGenerator  # noqa: E402

pytestmark = [
    pytest.mark.keras,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

SIZE = 256  # synthetic image side
S = 64  # model input side


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from rlemask.synthetic import make_dataset

    root = make_dataset(
        tmp_path_factory.mktemp("siim"), 24, size=SIZE, positive_fraction=0.5, seed=3
    )
    paths, labels = rlemask.load_siim(root)
    return paths, labels


@pytest.fixture(scope="module")
def cache(dataset, tmp_path_factory):
    paths, labels = dataset
    return rlemask.build_cache(
        paths, labels, tmp_path_factory.mktemp("cache"), img_size=S, workers=1, progress=False
    )


def _next_epoch(gen):
    gen.on_epoch_begin()
    gen.on_epoch_end()


def _expected_mask(labels, image_id):
    """The label decoded region by region, OR-ed, resized like load_sample does."""
    full = np.zeros((SIZE, SIZE), np.uint8)
    for rle in labels[image_id]:
        full |= rlemask.decode(rle, shape=(SIZE, SIZE))
    return rlemask.resize_mask(full, S, method="area")


def test_length_counts_the_partial_batch_and_covers_every_image_once(dataset):
    paths, labels = dataset
    gen = DataGenerator(paths, labels, batch_size=5, img_size=S, seed=0)
    assert len(gen) == 5  # 24 = 4 * 5 + 4
    sizes = [len(gen[i][0]) for i in range(len(gen))]
    assert sizes == [5, 5, 5, 5, 4]
    assert sorted(gen.order.tolist()) == list(range(24))
    assert gen[-1][0].shape[0] == 4
    with pytest.raises(IndexError, match="Received: index=5"):
        gen[5]


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_dtypes_and_exact_binary_targets(dataset, channels):
    paths, labels = dataset
    gen = DataGenerator(paths, labels, batch_size=8, img_size=S, channels=channels, seed=1)
    X, y = gen[0]
    assert X.shape == (8, S, S, channels) and X.dtype == np.float32
    assert y.shape == (8, S, S, 1) and y.dtype == np.float32
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert set(np.unique(y).tolist()) <= {0.0, 1.0}
    assert y.sum() > 0  # the positives carry regions
    if channels == 3:
        np.testing.assert_array_equal(X[..., 0], X[..., 1])
        np.testing.assert_array_equal(X[..., 0], X[..., 2])


def test_mask_in_batch_equals_decoded_rle_resized_the_same_way(dataset):
    paths, labels = dataset
    gen = DataGenerator(paths, labels, batch_size=6, img_size=S, shuffle=False)
    n_positive = 0
    for b in range(len(gen)):
        _, y = gen[b]
        for k, i in enumerate(gen.order[b * 6 : (b + 1) * 6]):
            expected = _expected_mask(labels, gen.ids[i])
            np.testing.assert_array_equal(y[k, ..., 0], expected, err_msg=gen.ids[i])
            n_positive += bool(expected.any())
    assert n_positive >= 10


def test_image_in_batch_equals_read_dicom_resized(dataset):
    paths, labels = dataset
    gen = DataGenerator(paths[:3], labels, batch_size=3, img_size=S, shuffle=False)
    X, _ = gen[0]
    for k, path in enumerate(paths[:3]):
        image = rlemask.resize_image(rlemask.read_dicom(path, dtype=np.float32), S)
        # load_sample rounds to 8-bit steps (k / 255), as the uint8 cache stores them, and a
        # 4x reduction starts from the JPEG decoder's reduced read: within one grey level
        np.testing.assert_allclose(X[k, ..., 0], np.clip(image, 0, 1), atol=1.5 / 255 + 1e-6)


@pytest.mark.parametrize("augment", [False, True])
def test_cache_gives_the_same_batches_as_the_files(dataset, cache, augment):
    # augmented from the cache, the kernel reads the stored bytes: still the same batches
    paths, labels = dataset
    a = DataGenerator(paths, labels, batch_size=7, img_size=S, seed=4, augment=augment)
    b = DataGenerator(paths, labels, batch_size=7, img_size=S, seed=4, cache=cache,
                      augment=augment)
    for i in range(len(a)):
        (xa, ya), (xb, yb) = a[i], b[i]
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_allclose(xa, xb, atol=1e-6)


def test_cache_of_another_size_is_refused(dataset, cache):
    paths, labels = dataset
    with pytest.raises(ValueError, match="img_size"):
        DataGenerator(paths, labels, img_size=2 * S, cache=cache)


def test_reshuffles_each_epoch_and_keeps_order_without_shuffle(dataset):
    paths, labels = dataset
    gen = DataGenerator(paths, labels, batch_size=4, img_size=S, seed=5)
    first = gen.order
    _next_epoch(gen)
    second = gen.order
    assert gen.epoch == 1
    assert sorted(first.tolist()) == sorted(second.tolist())
    assert not np.array_equal(first, second)
    fixed = DataGenerator(paths, labels, batch_size=4, img_size=S, shuffle=False)
    _next_epoch(fixed)
    assert fixed.order.tolist() == list(range(24))


def test_same_seed_same_batches_other_seed_other_batches(dataset, cache):
    paths, labels = dataset
    kw = dict(batch_size=6, img_size=S, cache=cache, augment=True)
    a = DataGenerator(paths, labels, seed=11, **kw)
    b = DataGenerator(paths, labels, seed=11, **kw)
    c = DataGenerator(paths, labels, seed=12, **kw)
    for gen in (a, b, c):
        _next_epoch(gen)
    # asked in another order: a batch does not depend on which batch came first
    xa, ya = a[2]
    _ = b[3]
    xb, yb = b[2]
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a.order, c.order)


def test_augment_in_generator_keeps_targets_binary_and_changes_pixels(dataset, cache):
    paths, labels = dataset
    plain = DataGenerator(paths, labels, batch_size=8, img_size=S, cache=cache, seed=2)
    aug = DataGenerator(paths, labels, batch_size=8, img_size=S, cache=cache, seed=2, augment=True)
    (x0, _), (x1, y1) = plain[0], aug[0]
    assert set(np.unique(y1).tolist()) <= {0.0, 1.0}
    assert not np.allclose(x0, x1)
    # the cache is untouched by in-place augmentation
    again, _ = plain[0]
    np.testing.assert_array_equal(again, x0)


def test_augment_callable_in_the_albumentations_convention(dataset, cache):
    albumentations = pytest.importorskip("albumentations")
    paths, labels = dataset
    flip = albumentations.Compose([albumentations.HorizontalFlip(p=1.0)], seed=0)
    plain = DataGenerator(paths, labels, batch_size=8, img_size=S, cache=cache, seed=2)
    flipped = DataGenerator(
        paths, labels, batch_size=8, img_size=S, cache=cache, seed=2, augment=flip
    )
    (x0, y0), (x1, y1) = plain[0], flipped[0]
    np.testing.assert_array_equal(y1, y0[:, :, ::-1])
    np.testing.assert_allclose(x1, x0[:, :, ::-1], atol=1e-6)

    calls = []

    def spy(image, mask):
        calls.append((image.shape, image.dtype, mask.dtype))
        return {"image": image, "mask": mask}

    gen = DataGenerator(paths, labels, batch_size=5, img_size=S, cache=cache, augment=spy)
    gen[0]
    assert calls == [((S, S), np.float32, np.uint8)] * 5  # every sample, one at a time


@pytest.mark.parametrize("bad", ["yes", 1, None.__class__])
def test_augment_that_is_not_bool_or_callable_is_a_type_error(dataset, bad):
    paths, labels = dataset
    if bad is type(None):
        bad = [True]
    with pytest.raises(TypeError, match="`augment` must be True, False or a callable"):
        DataGenerator(paths, labels, img_size=S, augment=bad)


def test_labels_as_a_dataframe(dataset, cache):
    pd = pytest.importorskip("pandas")
    paths, labels = dataset
    rows = [(key, rle) for key, rles in labels.items() for rle in (rles or ["-1"])]
    frame = pd.DataFrame(rows, columns=["ImageId", " EncodedPixels"])
    a = DataGenerator(paths, labels, batch_size=8, img_size=S, cache=cache, seed=1)
    b = DataGenerator(paths, frame, batch_size=8, img_size=S, cache=cache, seed=1)
    np.testing.assert_array_equal(a.positive, b.positive)
    np.testing.assert_array_equal(a[0][1], b[0][1])
    with pytest.raises(TypeError, match="`labels` must be a mapping"):
        DataGenerator(paths, [("a", "1 2")], img_size=S)


def test_batch_of_any_epoch_equals_that_epochs_getitem(dataset, cache):
    paths, labels = dataset
    kw = dict(batch_size=5, img_size=S, cache=cache, seed=9, augment=True,
              positive_fraction=(0.8, None), epochs=3)
    ahead = DataGenerator(paths, labels, **kw)
    walker = DataGenerator(paths, labels, **kw)
    wanted = {(e, i): ahead.batch(e, i) for e in (2, 0, 1) for i in (4, 0)}
    assert ahead.epoch == 0
    for epoch in range(3):
        assert walker.n_batches() == ahead.n_batches(epoch) == 5
        for index in (0, 4):
            x, y = walker[index]
            np.testing.assert_array_equal(x, wanted[epoch, index][0])
            np.testing.assert_array_equal(y, wanted[epoch, index][1])
        _next_epoch(walker)
    with pytest.raises(ValueError, match="Received: epoch=-1"):
        ahead.batch(-1, 0)
    with pytest.raises(IndexError, match="Received: index=5"):
        ahead.batch(1, 5)


def test_adapter_keeps_no_copy_of_the_core_pieces():
    import inspect

    import rlemask_keras.data as data

    source = inspect.getsource(data)
    # one is_positive (rlemask.datasets), one sampler and augmentation (rlemask.augment)
    for name in ("def _is_positive", "def _draw", "def augment_pair", "def _sample_axis"):
        assert name not in source


def test_positive_fraction_schedule(dataset, cache):
    paths, labels = dataset
    positive = np.array([bool(labels[p.stem]) for p in paths])
    gen = DataGenerator(
        paths,
        labels,
        batch_size=4,
        img_size=S,
        cache=cache,
        seed=0,
        positive_fraction=(0.9, None),
        epochs=3,
    )
    natural = positive.mean()
    shares = []
    for _ in range(3):
        shares.append(positive[gen.order].mean())
        assert len(gen.order) == len(paths)
        _next_epoch(gen)
    assert shares[0] == pytest.approx(0.9, abs=1 / 24)
    assert shares[2] == pytest.approx(natural, abs=1 / 24)
    assert shares[0] > shares[1] > shares[2]
    # positives over-sampled without replacement while they last
    gen.set_epoch(0)
    pos_ids = gen.order[positive[gen.order]]
    assert len(set(pos_ids.tolist())) == positive.sum()


def test_positive_fraction_pair_needs_epochs(dataset):
    paths, labels = dataset
    with pytest.raises(ValueError, match="Received: epochs=None"):
        DataGenerator(paths, labels, img_size=S, positive_fraction=(0.8, 0.3))
    with pytest.raises(ValueError, match="positive_fraction"):
        DataGenerator(paths, labels, img_size=S, positive_fraction=1.5)


def test_bad_arguments(dataset):
    paths, labels = dataset
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        DataGenerator(paths, labels, batch_size=0)
    with pytest.raises(ValueError, match="Received: channels=2"):
        DataGenerator(paths, labels, channels=2)
    with pytest.raises(ValueError, match="Received: on_error='ignore'"):
        DataGenerator(paths, labels, on_error="ignore")
    with pytest.raises(ValueError, match="no entry for 1 image"):
        DataGenerator(paths, {k: v for k, v in labels.items() if k != paths[0].stem})


def test_pydataset_options_reach_keras(dataset):
    paths, labels = dataset
    gen = DataGenerator(paths, labels, img_size=S, workers=2, max_queue_size=3)
    assert isinstance(gen, keras.utils.PyDataset)
    assert gen.workers == 2 and gen.max_queue_size == 3


def test_unreadable_file_raise_or_skip(dataset, tmp_path):
    paths, labels = dataset
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"not a dicom at all")
    all_paths = [bad, *paths[:5]]
    all_labels = {**labels, "broken": []}
    gen = DataGenerator(all_paths, all_labels, batch_size=6, img_size=S, shuffle=False)
    with pytest.raises(ValueError, match="broken.dcm"):
        gen[0]
    skip = DataGenerator(
        all_paths, all_labels, batch_size=6, img_size=S, shuffle=False, on_error="skip", seed=0
    )
    with pytest.warns(UserWarning, match="broken.dcm"):
        X, y = skip[0]
    assert X.shape[0] == 6  # the batch was refilled
    assert skip.n_skipped == 1 and skip.skipped == [bad]
    _next_epoch(skip)
    assert 0 not in skip.order.tolist()  # left out of later epochs


def test_fit_with_two_workers(dataset, cache):
    from rlemask_keras import DiceCoefficient, bce_dice_loss, unet

    paths, labels = dataset
    gen = DataGenerator(paths, labels, batch_size=8, img_size=S, cache=cache, seed=0, workers=2)
    model = unet((S, S, 1), filters=4, depth=2)
    model.compile("adam", loss=bce_dice_loss, metrics=[DiceCoefficient()])
    history = model.fit(gen, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert gen.epoch == 2  # Keras' extra on_epoch_end before the first epoch is not counted


def test_on_epoch_end_without_begin_is_not_an_epoch(dataset):
    paths, labels = dataset
    gen = DataGenerator(paths, labels, img_size=S, seed=0)
    order = gen.order
    gen.on_epoch_end()  # what Keras does when it sets up fit()
    assert gen.epoch == 0 and np.array_equal(gen.order, order)


def test_the_model_building_probe_is_not_an_epoch(dataset):
    # JAX / PyTorch fit(): Trainer._symbolic_build takes one batch between an
    # on_epoch_begin and an on_epoch_end before the first epoch
    paths, labels = dataset
    gen = DataGenerator(paths, labels, img_size=S, seed=0)
    order = gen.order

    def _symbolic_build():  # the name Keras' trainer has (this file's path holds "keras")
        gen.on_epoch_begin()
        gen[0]

    _symbolic_build()
    gen.on_epoch_end()
    assert gen.epoch == 0 and np.array_equal(gen.order, order)
    gen.on_epoch_begin()  # a real epoch still counts
    gen.on_epoch_end()
    assert gen.epoch == 1


# -- the tf.data path ------------------------------------------------------------------


def test_tf_dataset_gives_the_generators_batches_epoch_after_epoch(dataset, cache):
    pytest.importorskip("tensorflow")
    from rlemask_keras.tfdata import as_tf_dataset

    paths, labels = dataset
    gen = DataGenerator(paths, labels, batch_size=5, img_size=S, cache=cache, seed=3,
                        augment=True, positive_fraction=(0.9, None), epochs=3)
    batches = list(as_tf_dataset(gen, epochs=2, first_epoch=1, parallel_batches=3))
    assert len(batches) == 2 * len(gen)
    for k, (x, y) in enumerate(batches):
        epoch, index = 1 + k // len(gen), k % len(gen)
        want_x, want_y = gen.batch(epoch, index)
        np.testing.assert_array_equal(x.numpy(), want_x)
        np.testing.assert_array_equal(y.numpy(), want_y)
    assert tuple(batches[-1][0].shape) == (4, S, S, 1)  # 24 = 4 * 5 + 4
    # endless: epoch after epoch, from first_epoch on
    endless = list(as_tf_dataset(gen, first_epoch=2).take(len(gen) + 1))
    np.testing.assert_array_equal(endless[0][1].numpy(), gen.batch(2, 0)[1])
    np.testing.assert_array_equal(endless[-1][0].numpy(), gen.batch(3, 0)[0])


def test_tf_dataset_arguments():
    pytest.importorskip("tensorflow")
    from rlemask_keras.tfdata import as_tf_dataset

    with pytest.raises(TypeError, match="batch\\(epoch, index\\)"):
        as_tf_dataset([1, 2, 3])

    class Fake:
        def batch(self, epoch, index):
            return np.zeros((1, 2)), np.zeros((1, 1))

        def n_batches(self, epoch):
            return 1

    with pytest.raises(ValueError, match="Received: epochs=0"):
        as_tf_dataset(Fake(), epochs=0)
    with pytest.raises(ValueError, match="Received: first_epoch=-1"):
        as_tf_dataset(Fake(), first_epoch=-1)
    ds = as_tf_dataset(Fake(), epochs=3)
    assert sum(1 for _ in ds) == 3


def test_fit_on_the_tf_dataset(dataset, cache):
    pytest.importorskip("tensorflow")
    from rlemask_keras import bce_dice_loss, unet
    from rlemask_keras.tfdata import as_tf_dataset

    paths, labels = dataset
    train = DataGenerator(paths[:16], labels, batch_size=8, img_size=S, cache=cache, seed=0,
                          augment=True)
    val = DataGenerator(paths[16:], labels, batch_size=8, img_size=S, cache=cache,
                        shuffle=False)
    model = unet((S, S, 1), filters=4, depth=2)
    model.compile("adam", loss=bce_dice_loss)
    # shuffle=False: the generator shuffles (Keras cannot shuffle a tf.data stream)
    history = model.fit(as_tf_dataset(train), steps_per_epoch=len(train), epochs=2, shuffle=False,
                        validation_data=as_tf_dataset(val, epochs=1), verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()


def test_tf_dataset_endless_when_epochs_can_shrink(dataset):
    # DICOMs with on_error="skip": each epoch's length is asked for as it comes
    pytest.importorskip("tensorflow")
    from rlemask_keras.tfdata import as_tf_dataset

    paths, labels = dataset
    gen = DataGenerator(paths[:6], labels, batch_size=4, img_size=S, seed=1, on_error="skip")
    got = list(as_tf_dataset(gen).take(3))
    for (x, y), (epoch, index) in zip(got, [(0, 0), (0, 1), (1, 0)], strict=True):
        np.testing.assert_array_equal(x.numpy(), gen.batch(epoch, index)[0])
        np.testing.assert_array_equal(y.numpy(), gen.batch(epoch, index)[1])


def test_the_build_time_batch_is_not_an_epoch_on_every_trainer():
    # Keras fetches one batch to build the model: from _symbolic_build (JAX, PyTorch), or
    # from the TensorFlow trainer's _maybe_symbolic_build under a strategy; counting that
    # call as an epoch shifted the positive-fraction schedule by one
    from rlemask_keras import data

    def _symbolic_build():  # this file's name holds "keras", as Keras' own files do
        return data._building_model()

    def _maybe_symbolic_build():
        return data._building_model()

    def fit():
        return data._building_model()

    assert _symbolic_build() and _maybe_symbolic_build() and not fit()


# --- a Dataset of any kind: C classes, resize or pad, presence targets (issue 23) -------------


@pytest.fixture(scope="module")
def steel(tmp_path_factory):
    """Four classes at 64 x 320 (Severstal's layout, synthetic)."""
    from rlemask.synthetic_kinds import make_kind

    root = make_kind(tmp_path_factory.mktemp("steel"), "severstal", n_images=8, size=(64, 320))
    data = rlemask.load_dataset(root, root / "train.csv")
    assert data.positive().any(axis=0).sum() >= 2  # several classes present
    return data


class ContractDataset:
    """An object of the Dataset contract only (ids, classes, path, shape, sample): images of
    several sizes, two classes; the masks mark known pixels."""

    classes = ("a", "b")

    def __init__(self):
        self.ids = ("p", "q", "r")
        self._shapes = {"p": (5, 7), "q": (9, 4), "r": (8, 8)}

    def path(self, image_id):
        return f"/nowhere/{image_id}.png"

    def shape(self, image_id):
        return self._shapes[image_id]

    def sample(self, image_id, size=None, *, policy="resize"):
        assert policy == "pad" and size == (4, 4)
        h, w = self._shapes[image_id]
        ph, pw = -(-h // 4) * 4, -(-w // 4) * 4
        image = np.full((ph, pw), 0.5, np.float32)
        mask = np.zeros((ph, pw, 2), np.uint8)
        if image_id != "r":
            mask[0, 0, self.ids.index(image_id)] = 1  # p: class a, q: class b, r: empty
        return image, mask


def test_dataset_batches_are_its_samples_with_every_class(steel):
    gen = DataGenerator(steel, batch_size=3, img_size=(32, 160), shuffle=False, seed=0)
    assert gen.n_classes == 4 and gen.ids == list(steel.ids) and len(gen) == 3
    np.testing.assert_array_equal(gen.positive, steel.positive().any(axis=1))
    for index in range(len(gen)):
        X, y = gen[index]
        members = gen.order[index * 3 : (index + 1) * 3]
        samples = [steel.sample(steel.ids[m], (32, 160)) for m in members]
        assert X.shape == (len(members), 32, 160, 1) and X.dtype == np.float32
        assert y.shape == (len(members), 32, 160, 4) and y.dtype == np.float32
        np.testing.assert_array_equal(X[..., 0], np.stack([s[0] for s in samples]))
        np.testing.assert_array_equal(y, np.stack([s[1] for s in samples]).astype(np.float32))
    # presence targets: 1 where the class has a pixel of the sample's mask
    X, y = DataGenerator(steel, batch_size=8, img_size=(32, 160), presence=True, seed=0)[0]
    assert set(y) == {"mask", "presence"} and y["presence"].shape == (8, 4)
    expected = [[bool(y["mask"][k, ..., c].any()) for c in range(4)] for k in range(8)]
    np.testing.assert_array_equal(y["presence"], np.array(expected, np.float32))


def test_pad_policy_keeps_pixels_and_pads_a_batch_to_its_largest():
    data = ContractDataset()
    gen = DataGenerator(data, batch_size=3, img_size=4, policy="pad", shuffle=False, seed=0)
    # without Dataset.positive() the positives come from the masks themselves
    np.testing.assert_array_equal(gen.positive, [True, True, False])
    X, y = gen[0]
    assert X.shape == (3, 12, 8, 1) and y.shape == (3, 12, 8, 2)  # p 8x8, q 12x4, r 8x8
    assert X[0, :8, :8].min() == 0.5 and X[0, 8:].max() == 0 and X[1, :, 4:].max() == 0
    assert y[0, 0, 0].tolist() == [1, 0] and y[1, 0, 0].tolist() == [0, 1] and y[2].max() == 0
    assert y.sum() == 2


def test_dataset_with_augmentation_and_a_cache(steel, tmp_path):
    cache = steel.build_cache(tmp_path / "cache", (32, 160), workers=1, progress=False)
    plain = DataGenerator(steel, batch_size=4, img_size=(32, 160), seed=1)
    cached = DataGenerator(steel, batch_size=4, img_size=(32, 160), seed=1, cache=cache)
    for (xa, ya), (xb, yb) in zip([plain[0], plain[1]], [cached[0], cached[1]], strict=True):
        np.testing.assert_allclose(xa, xb, atol=1e-6)
        np.testing.assert_array_equal(ya, yb)
    augmented = DataGenerator(steel, batch_size=4, img_size=(32, 160), seed=1, augment=True)
    X, y = augmented[0]
    assert y.shape == (4, 32, 160, 4) and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(augmented[0][1], y)  # the same seed, the same batch


def test_dataset_arguments_are_checked(steel, dataset):
    with pytest.raises(TypeError, match="A Dataset carries its labels"):
        DataGenerator(steel, {"a": []})
    paths, _ = dataset
    with pytest.raises(TypeError, match="`labels` is needed"):
        DataGenerator(paths)
    with pytest.raises(ValueError, match=r"Received: policy='crop'"):
        DataGenerator(steel, policy="crop")
    with pytest.raises(ValueError, match=r"Received: img_size=\(32, 0\)"):
        DataGenerator(steel, img_size=(32, 0))


def test_files_with_presence_targets_and_a_non_square_size(dataset):
    paths, labels = dataset
    X, y = DataGenerator(paths[:4], labels, batch_size=4, img_size=(32, 48), presence=True)[0]
    assert X.shape == (4, 32, 48, 1) and y["mask"].shape == (4, 32, 48, 1)
    np.testing.assert_array_equal(y["presence"][:, 0], y["mask"].max(axis=(1, 2, 3)))


def test_a_head_model_fits_on_the_dataset_generator(steel):
    from rlemask_keras import DiceCoefficient, bce_dice_loss, unet

    gen = DataGenerator(steel, batch_size=8, img_size=(16, 80), presence=True, seed=0)
    model = unet((16, 80, 1), filters=2, depth=2, classes=4, classifier=True)
    model.compile("adam", loss=bce_dice_loss, metrics=[DiceCoefficient()])
    history = model.fit(gen, epochs=1, verbose=0).history
    assert {"loss", "mask_loss", "presence_loss", "dice"} <= set(history)
    assert all(np.isfinite(v[0]) for v in history.values())
