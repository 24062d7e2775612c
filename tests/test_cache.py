"""build_cache / SampleCache: identical to load_sample, resumable, never half-complete."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rlemask
from rlemask import SampleCache, build_cache, load_sample
from rlemask import cache as cache_module

N = 10
SIZE = 8


@pytest.fixture
def dataset(tmp_path, make_dicom):
    """N small DICOMs (alternating JPEG / uncompressed) and labels, every third positive."""
    rng = np.random.default_rng(1234)
    paths, labels = [], {}
    for i in range(N):
        pixels = rng.integers(0, 256, size=(32, 32)).astype(np.uint8)
        syntax = "jpeg" if i % 2 else "explicit"
        path = make_dicom(tmp_path / "images" / f"img{i:02d}.dcm", pixels, syntax=syntax)
        paths.append(path)
        if i % 3 == 0:
            mask = np.zeros((32, 32), np.uint8)
            mask[i : i + 12, 4:20] = 1
            labels[path.stem] = [rlemask.encode(mask)]
        else:
            labels[path.stem] = []
    return paths, labels


def _assert_matches_load_sample(cache, paths, labels):
    assert len(cache) == len(paths)
    for row, path in enumerate(paths):
        image, mask = load_sample(path, labels[path.stem], img_size=SIZE)
        np.testing.assert_array_equal(cache.images[row], image)
        np.testing.assert_array_equal(cache.masks[row], mask)
        assert cache.ids[row] == path.stem
        assert cache.positive[row] == bool(labels[path.stem])


def test_build_in_process_matches_load_sample(tmp_path, dataset):
    paths, labels = dataset
    cache = build_cache(paths, labels, tmp_path / "c", img_size=SIZE, workers=1, progress=False)
    _assert_matches_load_sample(cache, paths, labels)
    assert cache.images.dtype == np.float32 and cache.masks.dtype == np.uint8
    assert cache.images.shape == (N, SIZE, SIZE)
    assert cache.img_size == (SIZE, SIZE)
    assert cache.positive.dtype == bool and cache.positive.sum() == 4
    files = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert files == ["images.npy", "index.json", "masks.npy"]  # progress.npy removed
    index = json.loads((tmp_path / "c" / "index.json").read_text())
    assert index["complete"] is True and index["version"] == cache_module.CACHE_VERSION
    assert index["img_size"] == [SIZE, SIZE] and index["format"] == "siim"
    # reopened from disk
    again = SampleCache(str(tmp_path / "c"))
    np.testing.assert_array_equal(again.images, cache.images)
    assert again.ids == cache.ids


def test_non_square_size(tmp_path, dataset):
    paths, labels = dataset
    cache = build_cache(
        paths[:3], labels, tmp_path / "c", img_size=(8, 4), workers=1, progress=False
    )
    assert cache.images.shape == (3, 8, 4)
    image, mask = load_sample(paths[0], labels[paths[0].stem], img_size=(8, 4))
    np.testing.assert_array_equal(cache.images[0], image)
    np.testing.assert_array_equal(cache.masks[0], mask)


def test_get_batch_and_lookup(tmp_path, dataset):
    paths, labels = dataset
    cache = build_cache(paths, labels, tmp_path / "c", img_size=SIZE, workers=1, progress=False)
    images, masks = cache.get_batch([7, 2, -1, 2])
    assert images.shape == (4, SIZE, SIZE) and masks.shape == (4, SIZE, SIZE)
    for out, row in zip(range(4), [7, 2, N - 1, 2], strict=True):
        np.testing.assert_array_equal(images[out], cache.images[row])
        np.testing.assert_array_equal(masks[out], cache.masks[row])
    images[0] = -1  # a copy, not a view of the cache
    assert cache.images[7].min() >= 0
    image, mask = cache[3]
    np.testing.assert_array_equal(mask, cache.masks[3])
    assert cache.index_of("img04") == 4
    with pytest.raises(KeyError, match="'nope' is not in the cache"):
        cache.index_of("nope")
    with pytest.raises(IndexError, match=f"index {N} is out of range"):
        cache.get_batch([0, N])
    with pytest.raises(IndexError, match="1-D sequence of ints"):
        cache.get_batch([0.5])
    empty_images, _ = cache.get_batch([])
    assert empty_images.shape == (0, SIZE, SIZE)
    assert len(list(cache)) == N
    assert "SampleCache(" in repr(cache)


def test_pickles_as_its_folder(tmp_path, dataset):
    import pickle

    paths, labels = dataset
    cache = build_cache(paths, labels, tmp_path / "c", img_size=SIZE, workers=1, progress=False)
    blob = pickle.dumps(cache)
    assert len(blob) < 1000  # not the arrays
    again = pickle.loads(blob)
    assert again.ids == cache.ids
    np.testing.assert_array_equal(again.get_batch([1, 3])[0], cache.get_batch([1, 3])[0])


def test_interrupt_and_resume(tmp_path, dataset, monkeypatch):
    paths, labels = dataset
    out = tmp_path / "c"
    real_write = cache_module._write_item
    calls = {"n": 0}

    def interrupted_write(*args):
        if calls["n"] == 5:
            raise KeyboardInterrupt
        calls["n"] += 1
        real_write(*args)

    monkeypatch.setattr(cache_module, "_write_item", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        build_cache(
            paths, labels, out, img_size=SIZE, workers=1, progress=False, checkpoint_every=2
        )
    # half-built: refused, and the progress of the 5 written rows was saved
    with pytest.raises(ValueError, match="incomplete cache"):
        SampleCache(out)
    assert json.loads((out / "index.json").read_text())["complete"] is False
    assert np.load(out / "progress.npy").sum() == 5

    monkeypatch.setattr(cache_module, "_write_item", real_write)
    made = []
    real_make = cache_module._make_item

    def counting_make(i, *args):
        made.append(i)
        return real_make(i, *args)

    monkeypatch.setattr(cache_module, "_make_item", counting_make)
    cache = build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    assert sorted(made) == list(range(5, N))  # only the missing rows were made
    _assert_matches_load_sample(cache, paths, labels)

    # a complete cache with the same inputs is opened without any work
    made.clear()
    build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    assert made == []


def test_resume_after_a_hard_kill_redoes_unflagged_rows(tmp_path, dataset, monkeypatch):
    paths, labels = dataset
    out = tmp_path / "c"
    monkeypatch.setattr(cache_module, "_save_progress", lambda *a: None)  # as if killed -9
    real_write = cache_module._write_item
    calls = {"n": 0}

    def dying_write(images, masks, i, image, mask):
        calls["n"] += 1
        if calls["n"] > 4:
            raise SystemExit(9)
        real_write(images, masks, i, np.full_like(image, 0.5), mask)  # rows left stale

    monkeypatch.setattr(cache_module, "_write_item", dying_write)
    with pytest.raises(SystemExit):
        build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    monkeypatch.undo()
    cache = build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    _assert_matches_load_sample(cache, paths, labels)


def test_completion_marker_is_the_last_write(tmp_path, dataset, monkeypatch):
    paths, labels = dataset
    real = cache_module._write_index

    def failing_final_write(path, index):
        if index["complete"]:
            raise OSError("disk full")
        real(path, index)

    monkeypatch.setattr(cache_module, "_write_index", failing_final_write)
    with pytest.raises(OSError, match="disk full"):
        build_cache(paths, labels, tmp_path / "c", img_size=SIZE, workers=1, progress=False)
    with pytest.raises(ValueError, match="incomplete cache"):
        SampleCache(tmp_path / "c")


def _make_item_in_a_worker(i, path, rles, size, fmt):
    """rlemask.cache._make_item, failing unless it runs in a worker process."""
    import multiprocessing

    if multiprocessing.parent_process() is None:
        raise AssertionError("the sample was made in the parent, not in a worker")
    image, mask = load_sample(path, rles, img_size=size, format=fmt)
    return i, image, mask


def test_pool_build_interrupt_and_resume(tmp_path, dataset, monkeypatch):
    """Two spawn workers: interrupted in the parent, resumed in-process, same samples.

    (One pool start only: spawning workers costs seconds on a busy machine.)
    """
    paths, labels = dataset
    out = tmp_path / "c"
    monkeypatch.setattr(cache_module, "_MIN_ITEMS_PER_WORKER", 1)  # use the pool for 10
    _make_item = cache_module._make_item
    monkeypatch.setattr(cache_module, "_make_item", _make_item_in_a_worker)
    real_write = cache_module._write_item
    calls = {"n": 0}

    def interrupted_write(*args):
        if calls["n"] == 3:
            raise KeyboardInterrupt
        calls["n"] += 1
        real_write(*args)

    monkeypatch.setattr(cache_module, "_write_item", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        build_cache(
            paths, labels, out, img_size=SIZE, workers=2, progress=False, checkpoint_every=1
        )
    assert np.load(out / "progress.npy").sum() == 3
    monkeypatch.setattr(cache_module, "_write_item", real_write)
    monkeypatch.setattr(cache_module, "_make_item", _make_item)
    cache = build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    _assert_matches_load_sample(cache, paths, labels)


def test_bad_file_stops_the_build_and_keeps_progress(tmp_path, dataset):
    paths, labels = dataset
    bad = tmp_path / "images" / "zz_bad.dcm"
    bad.write_text("not dicom")
    labels = {**labels, "zz_bad": []}
    with pytest.raises(rlemask.DicomError, match=r"zz_bad\.dcm"):
        build_cache([*paths, bad], labels, tmp_path / "c", img_size=SIZE, workers=1, progress=False)
    assert np.load(tmp_path / "c" / "progress.npy").sum() == N
    with pytest.raises(ValueError, match="incomplete"):
        SampleCache(tmp_path / "c")


def test_other_inputs_need_overwrite(tmp_path, dataset):
    paths, labels = dataset
    out = tmp_path / "c"
    build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        build_cache(paths, labels, out, img_size=4, workers=1, progress=False)
    # same images and size, corrected labels: another cache, not the stale one
    changed = {**labels, "img01": ["0 5"]}
    with pytest.raises(FileExistsError, match="other inputs"):
        build_cache(paths, changed, out, img_size=SIZE, workers=1, progress=False)
    cache = build_cache(
        paths[:4], labels, out, img_size=4, workers=1, progress=False, overwrite=True
    )
    assert cache.images.shape == (4, 4, 4)
    assert SampleCache(out).ids == [p.stem for p in paths[:4]]


def test_labels_none_and_missing_labels(tmp_path, dataset):
    paths, labels = dataset
    cache = build_cache(paths[:3], None, tmp_path / "a", img_size=SIZE, workers=1, progress=False)
    assert not cache.masks[:].any() and not cache.positive.any()
    minus_one = {k: ["-1"] for k in labels}
    cache = build_cache(paths[:3], minus_one, tmp_path / "m", img_size=SIZE, workers=1,
                        progress=False)
    assert not cache.positive.any() and not cache.masks[:].any()
    some = {k: v for k, v in labels.items() if k != "img01"}
    with pytest.warns(UserWarning, match="1 images have no labels"):
        cache = build_cache(
            paths[:3], some, tmp_path / "b", img_size=SIZE, workers=1, progress=False
        )
    assert cache.ids == ["img00", "img02"]


def test_bad_inputs(tmp_path, dataset):
    paths, labels = dataset
    with pytest.raises(ValueError, match="duplicate image ids"):
        build_cache([paths[0], paths[0]], labels, tmp_path / "c", workers=1, progress=False)
    with pytest.raises(ValueError, match="nothing to cache"):
        build_cache([], labels, tmp_path / "c", workers=1, progress=False)
    with pytest.raises(ValueError, match="`img_size`"):
        build_cache(paths, labels, tmp_path / "c", img_size=0, workers=1, progress=False)


def test_sample_cache_refuses_broken_folders(tmp_path, dataset):
    with pytest.raises(FileNotFoundError, match="not a sample cache"):
        SampleCache(tmp_path)
    paths, labels = dataset
    out = tmp_path / "c"
    build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    np.save(out / "masks.npy", np.zeros((N, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"masks\.npy is uint8 \(10, 4, 4\)"):
        SampleCache(out)
    index = json.loads((out / "index.json").read_text())
    index["version"] = 999
    (out / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="cache version 999"):
        SampleCache(out)
    (out / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable cache index"):
        SampleCache(out)
