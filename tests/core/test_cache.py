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
    """Bit for bit: the cached sample is what load_sample makes."""
    assert len(cache) == len(paths)
    images, masks = cache.get_batch(range(len(cache)))
    for row, path in enumerate(paths):
        image, mask = load_sample(path, labels[path.stem], img_size=SIZE)
        assert images[row].dtype == image.dtype == np.float32
        np.testing.assert_array_equal(images[row].view(np.uint32), image.view(np.uint32))
        np.testing.assert_array_equal(cache[row][0], image)
        np.testing.assert_array_equal(masks[row], mask)
        assert cache.ids[row] == path.stem
        assert cache.positive[row] == bool(labels[path.stem])


def test_build_in_process_matches_load_sample(tmp_path, dataset):
    paths, labels = dataset
    cache = build_cache(paths, labels, tmp_path / "c", img_size=SIZE, workers=1, progress=False)
    _assert_matches_load_sample(cache, paths, labels)
    # stored as 8-bit steps, a quarter of float32 (issue 13)
    assert cache.images.dtype == np.uint8 and cache.masks.dtype == np.uint8
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
    np.testing.assert_array_equal(cache[0][0], image)
    np.testing.assert_array_equal(cache.masks[0], mask)


def test_get_batch_and_lookup(tmp_path, dataset):
    paths, labels = dataset
    cache = build_cache(paths, labels, tmp_path / "c", img_size=SIZE, workers=1, progress=False)
    images, masks = cache.get_batch([7, 2, -1, 2])
    assert images.shape == (4, SIZE, SIZE) and masks.shape == (4, SIZE, SIZE)
    raw, raw_masks = cache.get_batch([7, 2, -1, 2], dtype=np.uint8)
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(images, (raw / 255.0).astype(np.float32))
    np.testing.assert_array_equal(raw_masks, masks)
    for out, row in zip(range(4), [7, 2, N - 1, 2], strict=True):
        np.testing.assert_array_equal(raw[out], cache.images[row])
        np.testing.assert_array_equal(masks[out], cache.masks[row])
    images[0] = -1  # a copy, not a view of the cache
    raw[1] = 0
    np.testing.assert_array_equal(cache.get_batch([7, 2])[0][0], cache[7][0])
    assert cache[7][0].min() >= 0 and cache.images[2].any()
    with pytest.raises(ValueError, match="`dtype`"):
        cache.get_batch([0], dtype=np.float64)
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


def _interrupt_after_writes(monkeypatch, n: int):
    """The row writer raises KeyboardInterrupt after `n` rows; returns the real writer."""
    real_write = cache_module._write_item
    calls = {"n": 0}

    def interrupted_write(*args):
        if calls["n"] == n:
            raise KeyboardInterrupt
        calls["n"] += 1
        real_write(*args)

    monkeypatch.setattr(cache_module, "_write_item", interrupted_write)
    return real_write


def test_interrupt_and_resume(tmp_path, dataset, monkeypatch):
    paths, labels = dataset
    out = tmp_path / "c"
    real_write = _interrupt_after_writes(monkeypatch, 5)
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
        real_write(images, masks, i, np.full_like(image, 7), mask)  # rows left stale

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


def _make_item_in_a_worker(i, path, rles, size, fmt, *rest):
    """rlemask.cache._make_item, failing unless it runs in a worker process."""
    import multiprocessing

    if multiprocessing.parent_process() is None:
        raise AssertionError("the sample was made in the parent, not in a worker")
    return cache_module._make_item(i, path, rles, size, fmt, *rest)


def test_pool_build_interrupt_and_resume(tmp_path, dataset, monkeypatch):
    """Two spawn workers: interrupted in the parent, resumed in-process, same samples.

    (One pool start only: spawning workers costs seconds on a busy machine.)
    """
    paths, labels = dataset
    out = tmp_path / "c"
    monkeypatch.setattr(cache_module, "_MIN_ITEMS_PER_WORKER", 1)  # use the pool for 10
    _make_item = cache_module._make_item
    monkeypatch.setattr(cache_module, "_make_item", _make_item_in_a_worker)
    real_write = _interrupt_after_writes(monkeypatch, 3)
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
    with pytest.raises(ValueError, match=r"masks\.npy: uint8 \(10, 4, 4\), the index says"):
        SampleCache(out)
    index = json.loads((out / "index.json").read_text())
    index["version"] = 999
    (out / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="cache format 999"):
        SampleCache(out)
    (out / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable cache index"):
        SampleCache(out)


# --- integrity (issue 9) and format versions (issue 13) ----------------------------------------


def _edit_index(out, change):
    index = json.loads((out / "index.json").read_text())
    change(index)
    (out / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    "change",
    [
        lambda index: index["ids"].reverse(),
        lambda index: index["positive"].__setitem__(1, not index["positive"][1]),
        lambda index: index["paths"].reverse(),
        lambda index: index["arrays"]["images.npy"].__setitem__("sha256", "0" * 64),
    ],
    ids=["ids-reversed", "positive-flipped", "paths-reversed", "recorded-checksum"],
)
def test_an_edited_index_is_refused_on_open(tmp_path, dataset, change):
    # before: ids reversed served another image's sample, silently
    paths, labels = dataset
    out = tmp_path / "c"
    build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    _edit_index(out, change)
    with pytest.raises(ValueError, match=r"index\.json: the index does not match its checksum"):
        SampleCache(out)


def test_opening_does_not_read_the_arrays(tmp_path, dataset, monkeypatch):
    paths, labels = dataset
    out = tmp_path / "c"
    build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    monkeypatch.setattr(
        cache_module, "_file_digest", lambda path: pytest.fail("hashed an array on open")
    )
    assert len(SampleCache(out)) == N


@pytest.mark.parametrize("name", ["images.npy", "masks.npy"])
def test_verify_finds_flipped_bytes(tmp_path, dataset, name):
    paths, labels = dataset
    out = tmp_path / "c"
    build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    SampleCache(out).verify()  # intact: no error
    data = bytearray((out / name).read_bytes())
    data[-5] ^= 0x01  # one bit of the last row
    (out / name).write_bytes(bytes(data))
    cache = SampleCache(out)  # opening stays cheap: the index is intact
    with pytest.raises(ValueError, match=rf"{name.replace('.', '[.]')}: checksum mismatch"):
        cache.verify()


def _build_interrupted_at_row(row, paths, labels, out, monkeypatch):
    """A build stopped by Ctrl-C while writing ``row`` (the rows before it are written)."""
    real_write = cache_module._write_item

    def interrupted_write(images, masks, i, image, mask):
        if i == row:
            raise KeyboardInterrupt
        real_write(images, masks, i, image, mask)

    monkeypatch.setattr(cache_module, "_write_item", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    monkeypatch.undo()


def test_checksums_recorded_after_a_resumed_build(tmp_path, dataset, monkeypatch):
    paths, labels = dataset
    out = tmp_path / "c"
    _build_interrupted_at_row(4, paths, labels, out, monkeypatch)
    cache = build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    cache.verify()
    index = json.loads((out / "index.json").read_text())
    import hashlib

    for name in ("images.npy", "masks.npy"):
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        assert index["arrays"][name]["sha256"] == digest


def _as_format_1(out):
    """Rewrite a cache as rlemask 0.x wrote it: float32 images, version 1, no checksums."""
    images = np.load(out / "images.npy")
    np.save(out / "images.npy", images.astype(np.float32) / 255)
    index = json.loads((out / "index.json").read_text())
    for key in ("arrays", "index_sha256"):
        index.pop(key)
    index["version"] = 1
    (out / "index.json").write_text(json.dumps(index))


def test_an_old_format_cache_gives_a_clear_message(tmp_path, dataset):
    paths, labels = dataset
    out = tmp_path / "c"
    build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    _as_format_1(out)
    with pytest.raises(ValueError, match=r"cache format 1 \(written by an older rlemask.*rebuild"):
        SampleCache(out)
    with pytest.raises(cache_module.CacheExistsError, match="format 1.*overwrite=True") as info:
        build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    assert isinstance(info.value, FileExistsError) and "overwrite" not in info.value.reason
    cache = build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False,
                        overwrite=True)
    _assert_matches_load_sample(cache, paths, labels)


def test_images_take_a_quarter_of_float32(tmp_path, dataset):
    paths, labels = dataset
    out = tmp_path / "c"
    build_cache(paths, labels, out, img_size=32, workers=1, progress=False)
    header = 128  # .npy header
    assert (out / "images.npy").stat().st_size == N * 32 * 32 + header


def test_labels_as_a_data_frame(tmp_path, dataset):
    pd = pytest.importorskip("pandas")
    paths, labels = dataset
    rows = [(k, rle) for k, rles in labels.items() for rle in (rles or ["-1"])]
    frame = pd.DataFrame(rows, columns=["ImageId", "EncodedPixels"])
    from_frame = build_cache(paths, frame, tmp_path / "f", img_size=SIZE, workers=1,
                             progress=False)
    _assert_matches_load_sample(from_frame, paths, labels)
    assert from_frame.positive.tolist() == [bool(labels[p.stem]) for p in paths]


# --- Dask (issue 13) -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    # worker processes, as on a cluster; two small ones (the machine has 2 cores)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_build_is_identical_and_resumable(tmp_path, dataset, dask_client, monkeypatch):
    paths, labels = dataset
    local = build_cache(paths, labels, tmp_path / "local", img_size=SIZE, workers=1,
                        progress=False)

    # interrupted while writing the 4th sample made on the cluster
    out = tmp_path / "dask"
    real_write = cache_module._write_item
    written = []

    def interrupted_write(images, masks, i, *rest):
        if len(written) == 3:
            raise KeyboardInterrupt
        written.append(i)
        real_write(images, masks, i, *rest)

    monkeypatch.setattr(cache_module, "_write_item", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        build_cache(paths, labels, out, img_size=SIZE, progress=False, checkpoint_every=1,
                    client=dask_client)
    assert np.flatnonzero(np.load(out / "progress.npy")).tolist() == sorted(written)

    # resumed on the cluster: only the missing rows are made, and made there (workers
    # import their own rlemask.cache: this process's sample maker must not be called)
    first, written = written, []
    monkeypatch.setattr(cache_module, "_write_item", lambda images, masks, i, *rest: (
        written.append(i), real_write(images, masks, i, *rest)))
    monkeypatch.setattr(cache_module, "sample_u8", lambda *a: pytest.fail("made locally"))
    cache = build_cache(paths, labels, out, img_size=SIZE, progress=False, client=dask_client)
    monkeypatch.undo()
    assert sorted(written) == sorted(set(range(N)) - set(first))
    for name in ("images.npy", "masks.npy"):
        assert (out / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    np.testing.assert_array_equal(cache.get_batch(range(N))[0], local.get_batch(range(N))[0])
    cache.verify()


def test_dask_errors_name_the_file(tmp_path, dataset, dask_client):
    paths, labels = dataset
    bad = tmp_path / "images" / "zz_bad.dcm"
    bad.write_text("not dicom")
    with pytest.raises(rlemask.DicomError, match=r"zz_bad\.dcm"):
        build_cache([*paths, bad], {**labels, "zz_bad": []}, tmp_path / "c", img_size=SIZE,
                    progress=False, client=dask_client)


def test_checksums_need_no_python_311(tmp_path, dataset, monkeypatch):
    # hashlib.file_digest is Python >= 3.11; the package supports 3.10
    monkeypatch.delattr(cache_module.hashlib, "file_digest", raising=False)
    paths, labels = dataset
    out = tmp_path / "c"
    build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    SampleCache(out).verify()


# --- issue 19: symlinks (item 3), orphan workers (item 5), corrupt files (item 19) ----------


@pytest.mark.parametrize("name", ["images.npy", "masks.npy"])
def test_a_symlinked_array_is_replaced_not_written_through(tmp_path, dataset, name):
    # before: open_memmap("w+") truncated and overwrote the link's target
    paths, labels = dataset
    victim = tmp_path / "someone_elses_data.bin"
    victim.write_bytes(b"PRECIOUS " * 1000)
    out = tmp_path / "c"
    out.mkdir()
    (out / name).symlink_to(victim)
    cache = build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    assert victim.read_bytes() == b"PRECIOUS " * 1000
    assert not (out / name).is_symlink()
    _assert_matches_load_sample(cache, paths, labels)


def test_a_symlinked_array_is_not_written_through_on_resume(tmp_path, dataset, monkeypatch):
    paths, labels = dataset
    out = tmp_path / "c"
    _build_interrupted_at_row(3, paths, labels, out, monkeypatch)
    victim = tmp_path / "victim.npy"
    (out / "masks.npy").rename(victim)
    (out / "masks.npy").symlink_to(victim)
    before = victim.read_bytes()
    cache = build_cache(paths, labels, out, img_size=SIZE, workers=1, progress=False)
    assert victim.read_bytes() == before
    _assert_matches_load_sample(cache, paths, labels)


_KILLED_BUILD = """
import json, sys, time
import rlemask
from rlemask import cache as cache_module

if __name__ == "__main__":
    paths, labels, out = json.loads(sys.argv[1])
    cache_module._MIN_ITEMS_PER_WORKER = 1  # a pool for ten samples
    real_write = cache_module._write_item

    def slow_write(*args):  # the parent stays busy while its workers wait for work
        print("wrote a row", flush=True)
        time.sleep(0.5)
        real_write(*args)

    cache_module._write_item = slow_write
    rlemask.build_cache(paths, labels, out, img_size=4, workers=2, progress=False)
"""


def _children(pid: int) -> list[int]:
    import os

    kids = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[
                1
            ] == str(pid):
                kids.append(int(entry))
        except OSError:
            pass
    return kids


def _alive(pid: int) -> bool:
    try:  # a zombie has exited; only its entry waits to be reaped
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not __import__("os").path.isdir("/proc"), reason="needs /proc (Linux)")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_workers_die_with_a_killed_parent(tmp_path, dataset, sig):
    """A real build in a subprocess, killed: its pool workers and resource tracker end too."""
    import signal
    import subprocess
    import sys
    import time

    paths, labels = dataset
    args = json.dumps([[str(p) for p in paths], labels, str(tmp_path / "c")])
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # a row came back from a worker: the pool runs (two workers, the resource tracker)
        assert proc.stdout.readline() == b"wrote a row\n", proc.stderr.read().decode()
        time.sleep(0.3)
        kids = _children(proc.pid)
        assert len(kids) == 3, kids
        proc.send_signal(getattr(signal, sig))
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [k for k in kids if _alive(k)]
    finally:
        if proc.poll() is None:
            proc.kill()
    for pid in left:  # leave nothing behind, even when the test fails
        __import__("os").kill(pid, signal.SIGKILL)
    assert left == [], f"processes left alive after {sig} of their parent: {left}"


def test_on_error_skip_lists_corrupt_files(tmp_path, dataset):
    paths, labels = dataset
    bad = tmp_path / "images" / "img03_bad.dcm"
    bad.write_bytes(b"DICM but not really")
    worse = tmp_path / "images" / "zz_bad.dcm"
    worse.write_text("not dicom")
    files = [*paths[:3], bad, *paths[3:], worse]
    more = {**labels, "img03_bad": [], "zz_bad": ["1 2"]}
    with pytest.warns(UserWarning, match=r"2 of 12 images could not be read.*img03_bad"):
        cache = build_cache(files, more, tmp_path / "c", img_size=SIZE, workers=1,
                            progress=False, on_error="skip")
    assert [s["id"] for s in cache.skipped] == ["img03_bad", "zz_bad"]
    assert cache.skipped[0]["path"] == str(bad.resolve())
    assert "DicomError" in cache.skipped[0]["error"]
    assert cache.ids == [p.stem for p in paths]
    assert cache.images.shape == (N, SIZE, SIZE)
    _assert_matches_load_sample(cache, paths, labels)
    cache.verify()
    again = SampleCache(tmp_path / "c")  # recorded in the index, not only in this object
    assert again.skipped == cache.skipped and again.ids == cache.ids
    # the same inputs again: the complete cache is opened as it is
    assert build_cache(files, more, tmp_path / "c", img_size=SIZE, workers=1, progress=False,
                       on_error="skip").skipped == cache.skipped
    with pytest.raises(rlemask.DicomError, match=r"img03_bad\.dcm"):  # the default: raise
        build_cache(files, more, tmp_path / "d", img_size=SIZE, workers=1, progress=False)
    with pytest.raises(ValueError, match="`on_error`"):
        build_cache(files, more, tmp_path / "e", img_size=SIZE, on_error="ignore")


# --- any size, C classes, pad (issue 22) ---------------------------------------------------


@pytest.fixture
def strips(tmp_path):
    """Three 19 x 45 PNGs (odd, non-square) named with their .png, labels of three classes."""
    from PIL import Image

    rng = np.random.default_rng(5)
    paths, rows = [], {}
    for k in range(3):
        path = tmp_path / "strips" / f"s{k}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (19, 45)).astype(np.uint8)).save(path)
        paths.append(path)
        rows[path.name] = {}
        for c in ("a", "b", "c"):
            mask = (rng.random((19, 45)) < (0.3 if (k + ord(c)) % 3 else 0.0)).astype(np.uint8)
            rows[path.name][c] = [rlemask.encode(mask, format="kaggle")] if mask.any() else []
    return paths, rows


def test_multi_class_labels_by_mapping_with_ids(tmp_path, strips):
    paths, rows = strips
    ids = [p.name for p in paths]
    cache = build_cache(paths, rows, tmp_path / "c", img_size=(7, 13), ids=ids, format="kaggle",
                        workers=1, progress=False)
    assert cache.ids == ids and cache.classes == ("a", "b", "c")
    assert cache.masks.shape == (3, 7, 13, 3) and cache.images.shape == (3, 7, 13)
    expected_positive = [[bool(rows[i][c]) for c in "abc"] for i in ids]
    assert cache.positive_classes.tolist() == expected_positive
    assert cache.positive.tolist() == [any(r) for r in expected_positive]
    layout = cache.layout(1)  # resize: the image's own shape, from its header
    assert layout.image_shape == (19, 45) and layout.sample_shape == (7, 13)
    assert layout.to_image(cache.masks[1]).shape == (19, 45, 3)
    for row, path in enumerate(paths):
        image, mask = load_sample(path, rows[path.name], img_size=(7, 13), format="kaggle")
        np.testing.assert_array_equal(cache[row][0], image)
        np.testing.assert_array_equal(cache[row][1], mask)
    # a class order of one's own; classes the labels do not have are refused
    again = build_cache(paths, rows, tmp_path / "d", img_size=(7, 13), ids=ids,
                        format="kaggle", classes=("c", "a", "b"), workers=1, progress=False)
    np.testing.assert_array_equal(again.masks[:, ..., 0], cache.masks[:, ..., 2])
    with pytest.raises(ValueError, match=r"classes \['c'\] not in classes=\('a', 'b'\)"):
        build_cache(paths, rows, tmp_path / "e", ids=ids, classes=("a", "b"), progress=False)
    with pytest.raises(ValueError, match="one id per path"):
        build_cache(paths, rows, tmp_path / "e", ids=ids[:2], progress=False)


def test_a_labels_object_brings_its_classes_and_format(tmp_path, strips):
    paths, rows = strips
    lines = ["ImageId,ClassId,EncodedPixels"] + [
        f"{i},{c},{r}" for i, by_class in rows.items() for c, rs in by_class.items()
        for r in (rs or [""])]
    (tmp_path / "l.csv").write_text("\n".join(lines) + "\n")
    labels = rlemask.read_labels(tmp_path / "l.csv", format="kaggle")
    ids = [p.name for p in paths]
    cache = build_cache(paths, labels, tmp_path / "c", img_size=(19, 45), ids=ids, workers=1,
                        progress=False)
    assert cache.classes == ("a", "b", "c") and cache.format == "kaggle"
    for row, image_id in enumerate(ids):
        truth = labels.masks(image_id, shape=(19, 45))
        np.testing.assert_array_equal(cache.masks[row], np.moveaxis(truth, 0, -1))


def test_pad_cache_of_one_size_is_load_samples_padding(tmp_path, strips):
    paths, rows = strips
    ids = [p.name for p in paths]
    cache = build_cache(paths, rows, tmp_path / "c", img_size=8, ids=ids, format="kaggle",
                        policy="pad", workers=1, progress=False)
    assert cache.img_size == (24, 48) and cache.policy == "pad"
    for row, path in enumerate(paths):
        image, mask = load_sample(path, rows[path.name], img_size=8, format="kaggle",
                                  policy="pad")
        np.testing.assert_array_equal(cache[row][0], image)
        np.testing.assert_array_equal(cache[row][1], mask)
        layout = cache.layout(row)
        assert (layout.top, layout.left, layout.image_shape) == (2, 1, (19, 45))
    assert SampleCache(tmp_path / "c").layout(-1) == cache.layout(2)


def test_pad_cache_skips_a_file_whose_header_is_corrupt(tmp_path, strips):
    paths, rows = strips
    bad = paths[1].parent / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    files = [paths[0], bad, paths[2]]
    labels = {p.name: rows.get(p.name, {"a": [], "b": [], "c": []}) for p in files}
    ids = [p.name for p in files]
    with pytest.raises(rlemask.ImageError, match=r"bad\.png"):
        build_cache(files, labels, tmp_path / "r", img_size=8, ids=ids, format="kaggle",
                    policy="pad", workers=1, progress=False)
    with pytest.warns(UserWarning, match="1 of 3 images could not be read"):
        cache = build_cache(files, labels, tmp_path / "c", img_size=8, ids=ids,
                            format="kaggle", policy="pad", workers=1, progress=False,
                            on_error="skip")
    assert cache.ids == ["s0.png", "s2.png"] and cache.img_size == (24, 48)
    assert cache.layout(1).image_shape == (19, 45)
