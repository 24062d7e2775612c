"""Every real label file of ../shared/real opens with read_labels (and shape= only if needed).

The expected figures (rows, ids, layout, format) are the ones SOURCES.md
states for each file, or counted there by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference_rle as ref

import rlemask

# file -> (shape or None, layout, format, n_rows, n_ids, classes)
REAL = {
    "siim/train-rle-sample.asuiu.csv": ((1024, 1024), "single", "siim", 10, 10, ()),
    "siim/train-rle-sample.jonnoftw.csv": ((1024, 1024), "single", "siim", 10, 10, ()),
    "siim/stage1_sample_submission.csv": (None, "single", None, 1484, 1372, ()),
    "siim/stage1_submission_asuiu_kaggle1.csv.gz": ((1024, 1024), "single", "siim", 1489, 1377,
                                                    ()),
    "siim/stage2_sample_submission.csv": (None, "single", None, 3205, 3205, ()),
    "siim/train-rle.stage1.csv.gz": ((1024, 1024), "single", "siim", 12954, 12047, ()),
    "severstal/test_pseudo_labels_khornlund.csv": ((256, 1600), "wide", "kaggle", 7204, 1801,
                                                   ("1", "2", "3", "4")),
    "airbus/train_ship_segmentations_v2.sample.csv": ((768, 768), "single", "kaggle", 29, 10, ()),
    "uw-madison/submission_predicted_azkalot1.csv": (None, "long", "kaggle", 18240, 6080,
                                                     ("large_bowel", "small_bowel", "stomach")),
    "dsb2018/stage1_sample_submission.csv": (None, "single", None, 65, 65, ()),
    "dsb2018/stage1_submission_jessecambon.csv": (None, "single", "kaggle", 1309, 65, ()),
    "hubmap-kidney/submission_empty_optimox.csv": (None, "single", None, 5, 5, ()),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_file_opens(real_dir, name):
    shape, layout, fmt, n_rows, n_ids, classes = REAL[name]
    labels = rlemask.read_labels(real_dir / name, shape=shape)
    assert (labels.layout, labels.format, labels.n_rows, len(labels.ids), labels.classes) == (
        layout, fmt, n_rows, n_ids, classes)
    assert labels.format_evidence


def test_real_siim_sample_masks_match_the_reference(real_dir):
    labels = rlemask.read_labels(real_dir / "siim/train-rle-sample.asuiu.csv", shape=(1024, 1024))
    other = rlemask.read_labels(real_dir / "siim/train-rle-sample.jonnoftw.csv")
    assert labels.ids == other.ids
    positives = [i for i in labels.ids if labels.rles(i)]
    assert len(positives) == 5
    for image_id in positives[:2]:
        truth = np.zeros((1024, 1024), np.uint8)
        for text in labels.rles(image_id):
            truth |= ref.siim_decode(text, (1024, 1024))
        np.testing.assert_array_equal(labels.mask(image_id), truth)


def test_real_severstal_masks_one_plane_per_class(real_dir):
    labels = rlemask.read_labels(real_dir / "severstal/test_pseudo_labels_khornlund.csv",
                                 shape=(256, 1600))
    image_id = next(i for i in labels.ids if sum(len(labels.rles(i, c)) for c in "1234") >= 2)
    masks = labels.masks(image_id)
    assert masks.shape == (4, 256, 1600)
    for c, plane in zip(labels.classes, masks, strict=True):
        texts = labels.rles(image_id, c)
        want = ref.kaggle_decode(texts[0], (256, 1600)) if texts else np.zeros_like(plane)
        np.testing.assert_array_equal(plane, want)


def test_real_uw_madison_needs_only_a_shape(real_dir):
    labels = rlemask.read_labels(real_dir / "uw-madison/submission_predicted_azkalot1.csv")
    image_id = next(i for i in labels.ids if labels.rles(i, "stomach"))
    assert labels.max_pixel <= 310 * 360  # the largest UW-Madison slice size
    mask = labels.mask(image_id, "stomach", shape=(310, 360))
    np.testing.assert_array_equal(
        mask, ref.kaggle_decode(labels.rles(image_id, "stomach")[0], (310, 360)))


def test_real_dsb_objects_do_not_overlap(real_dir):
    labels = rlemask.read_labels(real_dir / "dsb2018/stage1_submission_jessecambon.csv")
    image_id = labels.ids[0]
    objects = labels.objects(image_id, shape=(256, 256))
    assert len(objects) == len(labels.rles(image_id)) > 1
    total = sum(o.area for o in objects)
    assert total == int(labels.mask(image_id, shape=(256, 256)).sum())


def test_real_merge_conflict_copy_is_refused_at_its_first_marker(real_dir):
    with pytest.raises(rlemask.LabelsFileError, match=r"line 2: .*git merge-conflict marker"):
        rlemask.read_labels(real_dir / "dsb2018/stage1_submission_jessecambon.merge-conflict.csv")
