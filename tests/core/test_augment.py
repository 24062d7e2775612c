"""rlemask.augment: the batch kernel against a slow numpy reference, random parameters,
albumentations-style callables and the positive-fraction sampler."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlemask.augment import (
    AugmentParams,
    BasicAugmentation,
    PositiveFractionSampler,
    apply_per_sample,
    check_augment,
    warp_batch,
)


def _axis(n: int, scale: float, shift: float) -> np.ndarray:
    centre = (n - 1) / 2.0
    return np.clip((np.arange(n, dtype=np.float64) - centre - shift) / scale + centre, 0, n - 1)


def reference_warp(image, mask, flip, scale, shift_y, shift_x, contrast, brightness):
    """Slow, obvious numpy: flip, then sample every output pixel at its source coordinate.

    The image bilinearly from its four neighbours, the mask at the nearest pixel
    (round half up), both with edge pixels repeated; then contrast about 0.5,
    brightness, clip.
    """
    height, width = image.shape
    if flip:
        image, mask = image[:, ::-1], mask[:, ::-1]
    rows, cols = _axis(height, scale, shift_y), _axis(width, scale, shift_x)
    out_image = np.empty((height, width), np.float64)
    out_mask = np.empty((height, width), np.uint8)
    for i, y in enumerate(rows):
        y0 = int(np.floor(y))
        y1 = min(y0 + 1, height - 1)
        for j, x in enumerate(cols):
            x0 = int(np.floor(x))
            x1 = min(x0 + 1, width - 1)
            a, u = y - y0, x - x0
            value = (
                image[y0, x0] * (1 - a) * (1 - u)
                + image[y0, x1] * (1 - a) * u
                + image[y1, x0] * a * (1 - u)
                + image[y1, x1] * a * u
            )
            out_image[i, j] = (value - 0.5) * contrast + 0.5 + brightness
            out_mask[i, j] = mask[min(int(np.floor(y + 0.5)), height - 1),
                                  min(int(np.floor(x + 0.5)), width - 1)]
    return np.clip(out_image, 0, 1), out_mask


@st.composite
def batches(draw):
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    images = rng.random((n, h, w), dtype=np.float32)
    masks = (rng.random((n, h, w)) < draw(st.sampled_from([0.0, 0.3, 1.0]))).astype(np.uint8)
    floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
    params = AugmentParams(
        flip=np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
        scale=np.array(draw(st.lists(st.floats(0.25, 4.0), min_size=n, max_size=n))),
        shift_y=np.array(draw(st.lists(floats.filter(lambda v: abs(v) < 2 * h + 2),
                                        min_size=n, max_size=n))),
        shift_x=np.array(draw(st.lists(floats.filter(lambda v: abs(v) < 2 * w + 2),
                                        min_size=n, max_size=n))),
        contrast=np.array(draw(st.lists(st.floats(0.0, 3.0), min_size=n, max_size=n))),
        brightness=np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n))),
    )
    return images, masks, params


def assert_as_the_reference(images, masks, params, out_images, out_masks):
    """Each warped image and mask (N, H, W) of a batch is the slow reference's."""
    for k in range(len(images)):
        ref_image, ref_mask = reference_warp(
            images[k], masks[k], *(value[k] for value in params)
        )
        # the mask is picked, never computed: exactly the reference's pixel
        np.testing.assert_array_equal(out_masks[k], ref_mask)
        np.testing.assert_allclose(out_images[k], ref_image, atol=2e-5)


@pytest.mark.kernels
@settings(max_examples=150, deadline=None)
@given(batches())
def test_kernel_matches_the_slow_reference(batch):
    images, masks, params = batch
    out_images, out_masks = warp_batch(images, masks, params)
    assert out_images.dtype == np.float32 and out_masks.dtype == np.uint8
    assert out_images.flags.c_contiguous and out_masks.flags.c_contiguous
    assert_as_the_reference(images, masks, params, out_images, out_masks)


@pytest.mark.kernels
@settings(max_examples=40, deadline=None)
@given(batches())
def test_uint8_images_are_read_as_their_8_bit_steps(batch):
    from rlemask.sample import to_unit

    images, masks, params = batch
    steps = (images * 255).round().astype(np.uint8)
    from_bytes = warp_batch(steps, masks, params)
    from_floats = warp_batch(to_unit(steps), masks, params)
    assert from_bytes[0].dtype == np.float32
    # the same numbers: the kernel reads each byte through the same table
    np.testing.assert_array_equal(from_bytes[0], from_floats[0])
    np.testing.assert_array_equal(from_bytes[1], from_floats[1])


@pytest.mark.kernels
def test_inputs_untouched_and_identity_is_identity():
    rng = np.random.default_rng(5)
    images = rng.random((2, 9, 7), dtype=np.float32)
    masks = (images > 0.5).astype(np.uint8)
    before = images.copy(), masks.copy()
    out_images, out_masks = warp_batch(images, masks, AugmentParams.identity(2))
    np.testing.assert_array_equal(images, before[0])
    np.testing.assert_array_equal(masks, before[1])
    np.testing.assert_array_equal(out_masks, masks)
    np.testing.assert_allclose(out_images, images, atol=1e-7)
    flipped = AugmentParams.identity(2)._replace(flip=np.array([True, False]))
    _, out_masks = warp_batch(images, masks, flipped)
    np.testing.assert_array_equal(out_masks[0], masks[0][:, ::-1])
    np.testing.assert_array_equal(out_masks[1], masks[1])


@pytest.mark.kernels
def test_bool_and_integer_masks_come_back_binary_uint8():
    images = np.zeros((1, 4, 4), np.float64)
    mask = np.zeros((1, 4, 4), bool)
    mask[0, 1:3, 1:3] = True
    out_images, out_masks = warp_batch(images, mask, AugmentParams.identity(1))
    assert out_images.dtype == np.float32 and out_masks.dtype == np.uint8
    np.testing.assert_array_equal(out_masks, mask.astype(np.uint8))


def test_image_and_mask_move_together_in_the_basic_set():
    rng = np.random.default_rng(0)
    mask = np.zeros((20, 64, 64), np.uint8)
    mask[:, 10:30, 5:25] = 1  # off-centre: a flip or shift moves it
    mask[:, 40:60, 40:50] = 1
    # the image IS the mask (0.25 / 0.75, so that no intensity change clips)
    images = 0.25 + 0.5 * mask.astype(np.float32)
    out_images, out_masks = BasicAugmentation().batch(images, mask, rng)
    changed = 0
    for out_image, out_mask in zip(out_images, out_masks, strict=True):
        middle = (out_image.min() + out_image.max()) / 2
        # only pixels on the region's border (bilinear blend vs nearest) may disagree
        assert np.mean((out_image > middle) == (out_mask == 1)) > 0.99
        changed += not np.array_equal(out_mask, mask[0])
        assert 0.75 < out_mask.sum() / mask[0].sum() < 1.3  # a zoom of at most 10 %
    assert changed >= 18


def test_random_parameters_follow_their_ranges_and_are_independent():
    aug = BasicAugmentation()
    n = 40_000
    p = aug.draw(n, (200, 100), np.random.default_rng(1234))
    assert p.flip.dtype == bool and abs(p.flip.mean() - 0.5) < 0.01
    for values, lo, hi in (
        (p.scale, 0.9, 1.1),
        (p.shift_y, -12.0, 12.0),  # 6 % of 200 rows
        (p.shift_x, -6.0, 6.0),  # 6 % of 100 columns
        (p.contrast, 0.85, 1.15),
        (p.brightness, -0.08, 0.08),
    ):
        assert lo <= values.min() and values.max() <= hi
        width = hi - lo
        # uniform: mean in the middle, standard deviation width / sqrt(12), both ends reached
        assert abs(values.mean() - (lo + hi) / 2) < 0.01 * width
        assert abs(values.std() - width / np.sqrt(12)) < 0.01 * width
        assert values.min() < lo + 0.01 * width and values.max() > hi - 0.01 * width
    stacked = np.stack([p.flip.astype(float), p.scale, p.shift_y, p.shift_x, p.contrast,
                        p.brightness])
    corr = np.corrcoef(stacked) - np.eye(6)
    assert np.abs(corr).max() < 0.03
    again = aug.draw(n, (200, 100), np.random.default_rng(1234))
    np.testing.assert_array_equal(again.scale, p.scale)


def test_settings_change_the_draws():
    p = BasicAugmentation(flip=0.0, scale=(1.0, 1.0), shift=0.0, contrast=(1, 1), brightness=0)
    drawn = p.draw(100, (8, 8), np.random.default_rng(0))
    assert not drawn.flip.any() and (drawn.scale == 1).all() and (drawn.brightness == 0).all()
    assert BasicAugmentation(flip=1.0).draw(50, (8, 8), np.random.default_rng(0)).flip.all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"flip": 1.5}, "Received: flip=1.5"),
        ({"scale": (0.0, 1.0)}, "must be positive"),
        ({"scale": (1.2, 1.1)}, "low <= high"),
        ({"contrast": 3}, "Received: contrast=3"),
        ({"shift": -0.1}, "Received: shift=-0.1"),
        ({"brightness": True}, "Received: brightness=True"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BasicAugmentation(**kwargs)


def test_warp_batch_validates_before_the_kernel():
    images = np.zeros((2, 4, 4), np.float32)
    masks = np.zeros((2, 4, 4), np.uint8)
    with pytest.raises(ValueError, match=r"`images` must be a 3-dimensional"):
        warp_batch(images[0], masks[0], AugmentParams.identity(1))
    with pytest.raises(ValueError, match=r"`masks` must have the shape"):
        warp_batch(images, masks[:1], AugmentParams.identity(2))
    with pytest.raises(ValueError, match=r"`masks` must be bool or integer"):
        warp_batch(images, masks.astype(float), AugmentParams.identity(2))
    with pytest.raises(ValueError, match=r"`params.flip` must have shape \(2,\)"):
        warp_batch(images, masks, AugmentParams.identity(3))
    bad = AugmentParams.identity(2)._replace(scale=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"`params.scale` must be finite and positive"):
        warp_batch(images, masks, bad)
    bad = AugmentParams.identity(2)._replace(shift_x=np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match=r"`params.shift_x` must be finite"):
        warp_batch(images, masks, bad)
    with pytest.raises(TypeError, match="AugmentParams"):
        warp_batch(images, masks, (1, 2))


def test_empty_batch():
    images, masks = warp_batch(
        np.zeros((0, 4, 4), np.float32), np.zeros((0, 4, 4), np.uint8), AugmentParams.identity(0)
    )
    assert images.shape == (0, 4, 4) and masks.shape == (0, 4, 4)


def test_check_augment():
    assert check_augment(False) is None and check_augment(None) is None
    assert isinstance(check_augment(True), BasicAugmentation)

    def fn(image, mask):
        return {"image": image, "mask": mask}

    assert check_augment(fn) is fn
    for bad in ("yes", 1, 0, [fn]):
        with pytest.raises(TypeError, match=r"`augment` must be True, False or a callable"):
            check_augment(bad)


def test_apply_per_sample_with_albumentations():
    albumentations = pytest.importorskip("albumentations")
    transform = albumentations.Compose(
        [albumentations.HorizontalFlip(p=1.0), albumentations.RandomBrightnessContrast(p=1.0)],
        seed=0,
    )
    rng = np.random.default_rng(0)
    images = rng.random((3, 16, 16), dtype=np.float32)
    masks = np.zeros((3, 16, 16), np.uint8)
    masks[:, 2:6, 1:4] = 1
    out_images, out_masks = apply_per_sample(transform, images, masks)
    assert out_images.dtype == np.float32 and out_masks.dtype == np.uint8
    np.testing.assert_array_equal(out_masks, masks[:, :, ::-1])
    assert not np.allclose(out_images, images[:, :, ::-1])


def test_apply_per_sample_checks_what_the_callable_returns():
    images = np.zeros((1, 4, 4), np.float32)
    masks = np.zeros((1, 4, 4), np.uint8)

    def crop(image, mask):
        return {"image": image[:2], "mask": mask[:2]}

    def pair(image, mask):
        return image, mask

    with pytest.raises(ValueError, match=r"crop returned image of shape \(2, 4\)"):
        apply_per_sample(crop, images, masks)
    with pytest.raises(TypeError, match='pair must return a mapping with "image" and "mask"'):
        apply_per_sample(pair, images, masks)

    def channel_last(image, mask):
        return {"image": image[..., None], "mask": 255 * np.ones((4, 4, 1), np.uint8)}

    out_images, out_masks = apply_per_sample(channel_last, images, masks)
    assert out_images.shape == (1, 4, 4) and out_masks.max() == 1


# -- the positive-fraction sampler ------------------------------------------------


def test_sampler_without_a_share_is_a_permutation():
    positive = np.arange(30) % 3 == 0
    sampler = PositiveFractionSampler(positive, seed=3)
    orders = [sampler.order(e) for e in range(3)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(30))
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(sampler.order(1), orders[1])  # a function of (seed, epoch)
    fixed = PositiveFractionSampler(positive, shuffle=False)
    assert fixed.order(2).tolist() == list(range(30))
    assert fixed.order(0, exclude=[0, 5]).tolist() == [i for i in range(30) if i not in (0, 5)]


@settings(max_examples=60, deadline=None)
@given(
    n_pos=st.integers(0, 30),
    n_neg=st.integers(0, 30),
    fraction=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_sampler_meets_the_share_and_draws_without_replacement_first(n_pos, n_neg, fraction,
                                                                     seed):
    if n_pos + n_neg == 0:
        return
    positive = np.array([True] * n_pos + [False] * n_neg)
    with pytest.warns(UserWarning) if (n_pos == 0 and fraction > 0) or (
        n_neg == 0 and fraction < 1
    ) else _no_warning():
        sampler = PositiveFractionSampler(positive, positive_fraction=fraction, seed=seed)
    order = sampler.order(0)
    n = n_pos + n_neg
    assert len(order) == n
    k = int(positive[order].sum())
    if n_pos and n_neg:
        assert k == round(fraction * n)
    # each kind: every member once before any repeats
    for kind in (True, False):
        drawn = order[positive[order] == kind]
        members = int((positive == kind).sum())
        counts = np.bincount(drawn, minlength=n)[positive == kind] if len(drawn) else np.zeros(0)
        if len(drawn):
            assert counts.max() - counts.min() <= 1 and counts.sum() == len(drawn)
            assert len(set(drawn.tolist())) == min(len(drawn), members)


class _no_warning:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)


def test_sampler_schedule_goes_linearly_to_the_natural_share():
    positive = np.arange(40) < 10  # natural share 0.25
    sampler = PositiveFractionSampler(positive, positive_fraction=(0.75, None), epochs=3, seed=0)
    shares = [positive[sampler.order(e)].mean() for e in range(4)]
    assert shares == pytest.approx([0.75, 0.5, 0.25, 0.25])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"positive_fraction": (0.8, 0.3)}, "Received: epochs=None"),
        ({"positive_fraction": 1.5}, "must be in \\[0, 1\\]"),
        ({"positive_fraction": "half"}, "Received: positive_fraction='half'"),
        ({"positive_fraction": (0.1, 0.2, 0.3), "epochs": 2}, "a \\(start, end\\) pair"),
        ({"epochs": 0}, "Received: epochs=0"),
        ({"seed": -1}, "Received: seed=-1"),
    ],
)
def test_sampler_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PositiveFractionSampler([True, False], **kwargs)


# --- any shape, C classes (issue 22) -------------------------------------------------------


@st.composite
def class_batches(draw):
    images, masks, params = draw(batches())
    n_classes = draw(st.sampled_from([1, 2, 3, 4, 8, 9, 70]))  # 3: padded; 9, 70: several words
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    classes = (rng.random((*images.shape, n_classes)) < 0.4).astype(np.uint8)
    return images, classes, params


@pytest.mark.kernels
@settings(max_examples=40, deadline=None)
@given(class_batches())
def test_every_class_moves_as_the_slow_reference_moves_a_mask(batch):
    images, classes, params = batch
    out_images, out_classes = warp_batch(images, classes, params)
    assert out_classes.shape == classes.shape and out_classes.dtype == np.uint8
    assert out_classes.flags.c_contiguous
    for c in range(classes.shape[-1]):
        assert_as_the_reference(images, classes[..., c], params, out_images, out_classes[..., c])


@pytest.mark.kernels
def test_non_square_odd_multi_class_batch_in_the_basic_set():
    rng = np.random.default_rng(3)
    images = rng.random((3, 25, 161), dtype=np.float32)  # odd, non-square: 256 x 1600 in small
    classes = np.zeros((3, 25, 161, 4), np.uint8)
    classes[:, 3:9, 10:50, 0] = 1
    classes[:, 12:20, 100:150, 3] = 1
    classes[:, 5:15, 30:40, 1] = 7  # any non-zero value is the class
    before = classes.copy()
    params = BasicAugmentation().draw(3, (25, 161), np.random.default_rng(0))
    out_images, out_classes = warp_batch(images, classes, params)
    np.testing.assert_array_equal(classes, before)
    for k in range(3):
        for c in range(4):
            _, ref = reference_warp(images[k], before[k, ..., c] != 0,
                                    *(value[k] for value in params))
            np.testing.assert_array_equal(out_classes[k, ..., c], ref)
    out = BasicAugmentation()(image=images[0], mask=classes[0], rng=np.random.default_rng(1))
    assert out["mask"].shape == (25, 161, 4) and set(np.unique(out["mask"])) <= {0, 1}


def test_apply_per_sample_gives_each_sample_its_classes():
    def flip(image, mask):
        assert mask.shape == (5, 7, 3)
        return {"image": image[:, ::-1], "mask": mask[:, ::-1]}

    images = np.random.default_rng(0).random((2, 5, 7), dtype=np.float32)
    classes = (np.random.default_rng(1).random((2, 5, 7, 3)) < 0.5).astype(np.uint8)
    out_images, out_classes = apply_per_sample(flip, images, classes)
    np.testing.assert_array_equal(out_classes, classes[:, :, ::-1])
    with pytest.raises(ValueError, match=r"the batch needs \(5, 7, 3\)"):
        apply_per_sample(lambda image, mask: {"image": image, "mask": mask[..., :1]}, images,
                         classes)
    with pytest.raises(ValueError, match=r"`masks` must have the shape"):
        warp_batch(images, classes[:, :4], AugmentParams.identity(2))


def test_sampler_counts_positives_per_class():
    # class 0 on 30 samples, class 1 on 2, class 2 on none; 68 negatives
    per_class = np.zeros((100, 3), bool)
    per_class[:30, 0] = True
    per_class[30:32, 1] = True
    plain = PositiveFractionSampler(per_class, positive_fraction=0.4, seed=1)
    assert plain.positive.sum() == 32 and plain.positive_classes.shape == (100, 3)
    balanced = PositiveFractionSampler(per_class, positive_fraction=0.4, seed=1,
                                       class_balance=True)
    for epoch in range(3):
        order = balanced.order(epoch)
        assert len(order) == 100
        drawn = per_class[order]
        # 40 positive draws, split evenly over the two classes that have positives
        assert drawn[:, 0].sum() == 20 and drawn[:, 1].sum() == 20 and drawn.any(1).sum() == 40
        plain_drawn = per_class[plain.order(epoch)]
        assert plain_drawn.any(1).sum() == 40 and plain_drawn[:, 1].sum() <= 4
    one_d = PositiveFractionSampler(per_class.any(1), positive_fraction=0.4, seed=1)
    np.testing.assert_array_equal(one_d.order(0), plain.order(0))
    with pytest.raises(ValueError, match=r"must be \(N,\) or \(N, C\)"):
        PositiveFractionSampler(np.zeros((2, 2, 2), bool))
