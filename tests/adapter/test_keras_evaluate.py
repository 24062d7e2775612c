"""evaluate.py: the one-pass triplet choice against choosing and scoring each triplet again."""

from __future__ import annotations

import numpy as np
import pytest

import rlemask
from rlemask_keras.evaluate import score_probabilities


def _maps(seed):
    rng = np.random.default_rng(seed)
    labels, maps = {}, []
    for k in range(6):
        truth = np.zeros((16, 16), bool)
        if k % 2:
            r, c = rng.integers(0, 10, 2)
            truth[r : r + 5, c : c + 5] = True
        prob = np.clip(truth * rng.uniform(0.3, 1.0) + rng.uniform(0, 0.6, (16, 16)), 0, 1)
        labels[f"i{k}"] = [rlemask.encode(truth)] if truth.any() else []
        maps.append((f"i{k}", prob.astype(np.float32)))
    return maps, labels


@pytest.mark.parametrize("seed", [0, 1])
def test_the_chosen_triplet_s_masks_are_the_triplet_rule_s(seed):
    maps, labels = _maps(seed)
    result = score_probabilities(iter(maps), labels)
    thr = result["thresholds"]
    # the slow way: apply the chosen triplet to every map, score with rlemask.evaluate
    predictions = {}
    for image_id, prob in maps:
        mask = rlemask.triplet_threshold(prob, thr["top"], thr["min_area"], thr["bottom"])
        predictions[image_id] = [rlemask.encode(mask)] if mask.any() else []
    assert result["predictions"] == predictions
    slow = rlemask.evaluate(predictions, labels, shape=(16, 16))
    assert result["report"].mean_dice == pytest.approx(slow.mean_dice, abs=1e-12)
    assert result["report"].mean_dice == pytest.approx(thr["grid_score"], abs=1e-9)
    plain = np.mean([rlemask.dice(p > 0.5, rlemask.merge(labels[i], shape=(16, 16)))
                     for i, p in maps])  # fmt: skip
    assert result["plain_threshold_score"] == pytest.approx(plain)


def test_maps_of_different_sizes_are_refused():
    maps, labels = _maps(0)
    maps[0] = (maps[0][0], np.zeros((8, 8), np.float32))
    labels[maps[0][0]] = []
    with pytest.raises(ValueError, match="2 different sizes"):
        score_probabilities(iter(maps), labels)
