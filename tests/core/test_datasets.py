"""load_siim on messy layouts, and split_dataset."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import rlemask
from rlemask import load_siim, split_dataset


def _touch(path: Path) -> Path:
    # load_siim indexes files without opening them: empty files are enough
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def _csv(path: Path, rows: list[tuple[str, str]], stage: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if stage == 1:
        text = "ImageId, EncodedPixels\n" + "".join(f"{i}, {r}\n" for i, r in rows)
    else:
        text = "ImageId,EncodedPixels\n" + "".join(f"{i},{r}\n" for i, r in rows)
    path.write_text(text)
    return path


def _siim(root: Path, ids: list[str]) -> list[Path]:
    return [
        _touch(root / "dicom-images-train" / f"1.2.{k}" / f"1.3.{k}" / f"{i}.dcm")
        for k, i in enumerate(ids)
    ]


def test_clean_layout(tmp_path):
    _siim(tmp_path, ["b", "a", "c"])
    _csv(tmp_path / "train-rle.csv", [("a", "-1"), ("b", "1 2"), ("b", "5 3"), ("c", "-1")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to report
        paths, labels = load_siim(tmp_path)
    assert [p.stem for p in paths] == ["a", "b", "c"]  # sorted by id
    assert all(p.is_file() for p in paths)
    assert labels == {"a": [], "b": ["1 2", "5 3"], "c": []}


def test_str_root_and_stage2_csv(tmp_path):
    _siim(tmp_path, ["a", "b"])
    _csv(tmp_path / "stage_2_train.csv", [("a", "-1"), ("b", "1 2")], stage=2)
    paths, labels = load_siim(str(tmp_path))
    assert [p.name for p in paths] == ["a.dcm", "b.dcm"]
    assert labels == {"a": [], "b": ["1 2"]}


def test_both_csv_names_prefers_train_rle_and_warns(tmp_path):
    _siim(tmp_path, ["a"])
    _csv(tmp_path / "train-rle.csv", [("a", "1 2")])
    _csv(tmp_path / "stage_2_train.csv", [("a", "-1")], stage=2)
    with pytest.warns(UserWarning, match=r"several labels CSVs.*'train-rle\.csv'"):
        _, labels = load_siim(tmp_path)
    assert labels == {"a": ["1 2"]}


def test_shallowest_csv_wins(tmp_path):
    _siim(tmp_path, ["a"])
    _csv(tmp_path / "nested" / "train-rle.csv", [("a", "1 2")])
    _csv(tmp_path / "stage_2_train.csv", [("a", "-1")], stage=2)
    with pytest.warns(UserWarning, match="several labels CSVs"):
        _, labels = load_siim(tmp_path)
    assert labels == {"a": []}


def test_explicit_csv(tmp_path):
    _siim(tmp_path / "images", ["a"])
    csv = _csv(tmp_path / "elsewhere" / "labels.csv", [("a", "3 4")])
    _, labels = load_siim(tmp_path / "images", csv=csv)
    assert labels == {"a": ["3 4"]}
    with pytest.raises(FileNotFoundError, match="`csv`.*missing.csv"):
        load_siim(tmp_path / "images", csv=tmp_path / "missing.csv")


def test_no_csv_names_the_root(tmp_path):
    _siim(tmp_path, ["a"])
    with pytest.raises(FileNotFoundError, match=rf"No labels CSV.*{tmp_path.name}"):
        load_siim(tmp_path)


def test_root_must_be_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="`root` must be a folder"):
        load_siim(tmp_path / "nope")


def test_missing_labels_and_orphan_labels_warn_with_counts(tmp_path):
    _siim(tmp_path, ["a", "b", "c", "d"])
    _csv(
        tmp_path / "train-rle.csv",
        [("a", "-1"), ("b", "1 2"), ("x", "-1"), ("y", "1 1"), ("z", "-1")],
    )
    with pytest.warns(UserWarning) as record:
        paths, labels = load_siim(tmp_path)
    messages = [str(w.message) for w in record]
    assert any("2 of 4 images have no row in train-rle.csv" in m and "'c'" in m for m in messages)
    assert any("3 of 5 ids in train-rle.csv have no image" in m and "'x'" in m for m in messages)
    # images without labels stay in the list; orphan labels are dropped
    assert [p.stem for p in paths] == ["a", "b", "c", "d"]
    assert labels == {"a": [], "b": ["1 2"]}


def test_duplicate_mirror_folder_counted_once_shallowest_wins(tmp_path):
    originals = _siim(tmp_path, ["a", "b"])
    # the mirror nests a second copy one level deeper
    _siim(tmp_path / "siim", ["a", "b"])
    _csv(tmp_path / "train-rle.csv", [("a", "-1"), ("b", "1 2")])
    with pytest.warns(UserWarning, match=r"2 image ids have 2 duplicate copies"):
        paths, labels = load_siim(tmp_path)
    assert paths == originals
    assert len(labels) == 2


def test_test_folder_is_excluded_by_default(tmp_path):
    _siim(tmp_path, ["a"])
    _touch(tmp_path / "dicom-images-test" / "s" / "t" / "q.dcm")
    _csv(tmp_path / "train-rle.csv", [("a", "-1")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths, _ = load_siim(tmp_path)
    assert [p.stem for p in paths] == ["a"]
    with pytest.warns(UserWarning, match="1 of 2 images have no row"):
        paths, _ = load_siim(tmp_path, exclude=())
    assert [p.stem for p in paths] == ["a", "q"]


def test_non_dcm_files_ignored_and_suffix_case(tmp_path):
    _siim(tmp_path, ["a"])
    _touch(tmp_path / "dicom-images-train" / "x" / "B.DCM")
    _touch(tmp_path / "dicom-images-train" / "x" / "notes.txt")
    _csv(tmp_path / "train-rle.csv", [("a", "-1"), ("B", "-1")])
    paths, labels = load_siim(tmp_path)
    assert sorted(p.stem for p in paths) == ["B", "a"]


def test_no_images_warns(tmp_path):
    _csv(tmp_path / "train-rle.csv", [("a", "-1")])
    with pytest.warns(UserWarning) as record:
        paths, labels = load_siim(tmp_path)
    assert paths == [] and labels == {}
    messages = " | ".join(str(w.message) for w in record)
    assert "no .dcm files found" in messages and "1 of 1 ids" in messages


def test_deterministic(tmp_path):
    _siim(tmp_path, [f"id{i:03d}" for i in range(30)])
    _csv(tmp_path / "train-rle.csv", [(f"id{i:03d}", "-1") for i in range(30)])
    assert load_siim(tmp_path) == load_siim(tmp_path)


def test_labels_file_errors_propagate(tmp_path):
    _siim(tmp_path, ["a"])
    (tmp_path / "train-rle.csv").write_text("Foo,Bar\na,1\n")
    with pytest.raises(rlemask.LabelsFileError):
        load_siim(tmp_path)


# --- split_dataset ----------------------------------------------------------------------------


def _labelled(n_pos: int, n_neg: int) -> tuple[list[str], dict[str, list[str]]]:
    paths = [f"/data/img{i:03d}.dcm" for i in range(n_pos + n_neg)]
    labels = {f"img{i:03d}": (["1 2"] if i < n_pos else []) for i in range(n_pos + n_neg)}
    return paths, labels


def _positives(paths, labels):
    return sum(bool(labels[Path(p).stem]) for p in paths)


def test_split_is_stratified():
    paths, labels = _labelled(20, 80)
    train, val = split_dataset(paths, labels, val_fraction=0.25, seed=3)
    assert len(val) == 25 and len(train) == 75
    assert _positives(val, labels) == 5 and _positives(train, labels) == 15
    assert sorted(train + val) == sorted(paths)
    assert not set(train) & set(val)


def test_split_is_deterministic_and_seeded():
    paths, labels = _labelled(30, 70)
    a = split_dataset(paths, labels, seed=7)
    assert a == split_dataset(paths, labels, seed=7)
    assert a != split_dataset(paths, labels, seed=8)
    # keeps the input order within each list
    train, val = a
    assert train == [p for p in paths if p in set(train)]


def test_split_every_class_in_val_when_possible():
    paths, labels = _labelled(2, 50)
    _, val = split_dataset(paths, labels, val_fraction=0.1, seed=0)
    assert _positives(val, labels) == 1  # round(0.2) = 0, but one is taken
    paths, labels = _labelled(1, 10)
    train, val = split_dataset(paths, labels, val_fraction=0.5, seed=0)
    assert _positives(train, labels) == 1  # a single positive stays in train


def test_split_zero_fraction_and_errors():
    paths, labels = _labelled(3, 3)
    train, val = split_dataset(paths, labels, val_fraction=0.0)
    assert val == [] and train == paths
    for bad in (-0.1, 1.0, 2, "0.2"):
        with pytest.raises(ValueError, match="`val_fraction`"):
            split_dataset(paths, labels, val_fraction=bad)


def test_split_leaves_out_unlabelled_with_warning():
    paths, labels = _labelled(4, 4)
    paths = [*paths, "/data/extra.dcm"]
    with pytest.warns(UserWarning, match="1 images have no labels"):
        train, val = split_dataset(paths, labels)
    assert "/data/extra.dcm" not in train + val
    assert len(train + val) == 8


def test_minus_one_entries_are_negative():
    from rlemask.datasets import is_positive, n_rle_rows

    assert not is_positive(["-1"]) and not is_positive([" -1", ""]) and not is_positive(None)
    assert not is_positive([float("nan")])
    assert is_positive(["-1", "3 4"]) and n_rle_rows(["-1", "3 4", "1 1"]) == 2
    paths = [f"/d/p{i}.dcm" for i in range(4)] + [f"/d/n{i}.dcm" for i in range(4)]
    labels = {f"p{i}": ["1 2"] for i in range(4)} | {f"n{i}": ["-1"] for i in range(4)}
    _, val = split_dataset(paths, labels, val_fraction=0.5, seed=0)
    assert sorted(Path(p).stem[0] for p in val) == ["n", "n", "p", "p"]


# --- k folds (issue 10) ------------------------------------------------------------------------


@given(
    n_pos=st.integers(0, 12),
    n_neg=st.integers(0, 30),
    n_folds=st.integers(2, 7),
    seed=st.integers(0, 2**32 - 1),
    unlabelled=st.integers(0, 3),
)
def test_folds_are_stratified_disjoint_and_cover_every_image(n_pos, n_neg, n_folds, seed,
                                                             unlabelled):
    paths, labels = _labelled(n_pos, n_neg)
    assume(n_pos + n_neg >= n_folds)
    # interleave positives, negatives and unlabelled images: order must not matter
    rng = np.random.default_rng(seed)
    paths = [*paths, *(f"/data/extra{i}.dcm" for i in range(unlabelled))]
    paths = [paths[i] for i in rng.permutation(len(paths))]
    folds = []
    for k in range(n_folds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the unlabelled images
            train, val = split_dataset(paths, labels, n_folds=n_folds, fold=k, seed=seed)
        labelled = [p for p in paths if Path(p).stem in labels]
        assert sorted(train + val) == sorted(labelled) and not set(train) & set(val)
        assert train == [p for p in paths if p in set(train)]  # input order kept
        assert val == [p for p in paths if p in set(val)]
        folds.append(val)
    # disjoint, and together every labelled image exactly once
    every = [p for fold in folds for p in fold]
    assert sorted(every) == sorted(p for p in paths if Path(p).stem in labels)
    # stratified: positives and sizes differ by at most one between folds
    pos = [_positives(fold, labels) for fold in folds]
    sizes = [len(fold) for fold in folds]
    assert max(pos) - min(pos) <= 1 and max(sizes) - min(sizes) <= 1
    neg = [size - p for size, p in zip(sizes, pos, strict=True)]
    assert max(neg) - min(neg) <= 1


def test_folds_depend_on_the_seed_only():
    paths, labels = _labelled(10, 30)
    a = [split_dataset(paths, labels, n_folds=4, fold=k, seed=5)[1] for k in range(4)]
    b = [split_dataset(paths, labels, n_folds=4, fold=k, seed=5)[1] for k in range(4)]
    c = [split_dataset(paths, labels, n_folds=4, fold=k, seed=6)[1] for k in range(4)]
    assert a == b and a != c
    # the hold-out split (the existing signature) is unchanged by the new keywords
    assert split_dataset(paths, labels, seed=5) == split_dataset(paths, labels, val_fraction=0.2,
                                                                 seed=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_folds": 1, "fold": 0}, "`n_folds` must be an int >= 2; received n_folds=1"),
        ({"n_folds": 3, "fold": 3}, r"`fold` must be an int in \[0, 2\]"),
        ({"n_folds": 3, "fold": None}, "`fold` must be an int"),
        ({"n_folds": 3.0, "fold": 0}, "`n_folds` must be an int"),
        ({"fold": 1}, "`fold` needs `n_folds`"),
        ({"n_folds": 9, "fold": 0}, r"at most the number of labelled images \(8\)"),
    ],
)
def test_fold_errors(kwargs, message):
    paths, labels = _labelled(4, 4)
    with pytest.raises(ValueError, match=message):
        split_dataset(paths, labels, **kwargs)


def test_split_takes_a_data_frame():
    pd = pytest.importorskip("pandas")
    paths, labels = _labelled(6, 10)
    rows = [(key, rle) for key, rles in labels.items() for rle in (rles or ["-1"])]
    # stage-1 spelling and a repeated id
    frame = pd.DataFrame([*rows, ("img000", "5 2")], columns=["ImageId", " EncodedPixels"])
    assert split_dataset(paths, frame, seed=2) == split_dataset(paths, labels, seed=2)
    assert split_dataset(paths, frame, n_folds=3, fold=1, seed=2) == split_dataset(
        paths, labels, n_folds=3, fold=1, seed=2
    )


# --- split_dataset(groups=): a patient never in two folds (issue 19 item 21) ----------------


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=12),
    positive_share=st.sampled_from([0.0, 0.3, 1.0]),
    n_folds=st.integers(2, 4),
    seed=st.integers(0, 50),
)
def test_group_folds_keep_each_group_whole_and_cover_every_image(sizes, positive_share,
                                                                 n_folds, seed):
    assume(n_folds <= len(sizes))
    paths, labels, group = [], {}, {}
    rng = np.random.default_rng(seed)
    for g, size in enumerate(sizes):
        for k in range(size):
            image_id = f"p{g}_{k}"
            paths.append(f"{image_id}.png")
            labels[image_id] = ["1 2"] if rng.random() < positive_share else []
            group[image_id] = f"patient{g}"
    folds = [split_dataset(paths, labels, n_folds=n_folds, fold=k, seed=seed, groups=group)
             for k in range(n_folds)]
    vals = [set(val) for _, val in folds]
    # slow and obvious: every path in exactly one validation fold, train the rest
    assert sorted(p for v in vals for p in v) == sorted(paths)
    for (train, val), v in zip(folds, vals, strict=True):
        assert set(train) == set(paths) - v and val
    owner = {}
    for k, v in enumerate(vals):
        for p in v:
            owner.setdefault(group[Path(p).stem], set()).add(k)
    assert all(len(ks) == 1 for ks in owner.values())  # no patient in two folds


def test_group_folds_balance_positives_and_sizes():
    # 8 patients of 3 images, 4 of them with positives: 2 folds get 2 positive patients each
    paths = [f"p{g}_{k}.dcm" for g in range(8) for k in range(3)]
    labels = {Path(p).stem: (["1 2"] if int(p[1]) < 4 else []) for p in paths}
    groups = [Path(p).stem.split("_")[0] for p in paths]  # a sequence, one per path
    for seed in range(5):
        for fold in range(2):
            _, val = split_dataset(paths, labels, n_folds=2, fold=fold, seed=seed,
                                   groups=groups)
            assert len(val) == 12 and sum(bool(labels[Path(p).stem]) for p in val) == 6


def test_group_holdout_keeps_groups_whole():
    paths = [f"p{g}_{k}.dcm" for g in range(10) for k in range(2)]
    labels = {Path(p).stem: (["1 2"] if int(p[1]) < 4 else []) for p in paths}
    groups = {Path(p).stem: Path(p).stem.split("_")[0] for p in paths}
    train, val = split_dataset(paths, labels, val_fraction=0.2, seed=3, groups=groups)
    assert {groups[Path(p).stem] for p in train}.isdisjoint(groups[Path(p).stem] for p in val)
    assert len(val) == 4 and sorted(train + val) == sorted(paths)


def test_group_errors():
    paths = ["a.dcm", "b.dcm", "c.dcm"]
    labels = {"a": [], "b": [], "c": []}
    with pytest.raises(ValueError, match="no group for image id 'c'"):
        split_dataset(paths, labels, n_folds=2, fold=0, groups={"a": 1, "b": 2})
    with pytest.raises(ValueError, match="one entry per path"):
        split_dataset(paths, labels, n_folds=2, fold=0, groups=[1, 2])
    with pytest.raises(ValueError, match=r"number of groups \(1\)"):
        split_dataset(paths, labels, n_folds=2, fold=0, groups=[7, 7, 7])


# --- load_dataset: any kind of data set (issue 22) ----------------------------------------


def _jpeg(path: Path, shape, seed=0) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=95)
    return path


def _png16(path: Path, shape, seed=0) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 4000, shape).astype(np.uint16)
    Image.fromarray(pixels).save(path)
    return path


def _box(shape, r0, r1, c0, c1):
    mask = np.zeros(shape, np.uint8)
    mask[r0:r1, c0:c1] = 1
    return mask


@pytest.fixture
def steel(tmp_path):
    """A Severstal-like set: 17 x 90 JPEG strips (odd, non-square), v1 wide layout, 4 classes."""
    import reference_rle as ref

    shape = (17, 90)
    rows, truth = ["ImageId_ClassId,EncodedPixels"], {}
    for k, name in enumerate(["0002cc93b.jpg", "00031f466.jpg", "0007a71bf.jpg"]):
        _jpeg(tmp_path / "train_images" / name, shape, seed=k)
        truth[name] = np.zeros((*shape, 4), np.uint8)
        for c in range(4):
            if (k + c) % 2 == 0:
                mask = _box(shape, k, 9 + k, 10 * c + k, 10 * c + 30)
                truth[name][..., c] = mask
                rows.append(f"{name}_{c + 1},{ref.kaggle_encode(mask)}")
            else:
                rows.append(f"{name}_{c + 1},")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    return tmp_path, truth


def test_steel_ids_keep_jpg_four_classes_at_their_own_shape(steel):
    import reference_geometry as ref

    root, truth = steel
    data = rlemask.load_dataset(root, root / "train.csv")
    assert data.ids == tuple(sorted(truth)) and data.classes == ("1", "2", "3", "4")
    assert data.path("0002cc93b.jpg") == root / "train_images" / "0002cc93b.jpg"
    for image_id, expected in truth.items():
        assert data.shape(image_id) == (17, 90)
        image, mask = data.sample(image_id)
        assert image.dtype == np.float32 and image.shape == (17, 90)
        assert mask.dtype == np.uint8 and mask.shape == (17, 90, 4)
        np.testing.assert_array_equal(mask, expected)
        # resized: each class on its own, binary-safe (the slow exact-area reference)
        _, small = data.sample(image_id, (8, 45))
        assert small.shape == (8, 45, 4)
        for c in range(4):
            np.testing.assert_array_equal(small[..., c],
                                          ref.resize_mask_area(expected[..., c], 8, 45))
    assert data.positive().sum(axis=0).tolist() == [2, 1, 2, 1]


def test_pad_policy_keeps_every_pixel_and_maps_back(steel):
    root, truth = steel
    data = rlemask.load_dataset(root, root / "train.csv")
    image_id = data.ids[1]
    full_image, _ = data.sample(image_id)
    image, mask = data.sample(image_id, 16, policy="pad")
    assert image.shape == (32, 96) and mask.shape == (32, 96, 4)  # 17 -> 32, 90 -> 96
    layout = data.layout(image_id, 16, policy="pad")
    assert (layout.top, layout.left) == (7, 3)  # centred; the odd pixel at the bottom
    np.testing.assert_array_equal(layout.to_image(mask), truth[image_id])
    np.testing.assert_array_equal(layout.to_image(image), full_image)
    outside = np.ones(image.shape, bool)
    outside[7:24, 3:93] = False
    assert not image[outside].any() and not mask[outside].any()


def test_cache_of_a_multi_class_set_equals_its_samples(steel, tmp_path):
    root, truth = steel
    data = rlemask.load_dataset(root, root / "train.csv")
    cache = data.build_cache(tmp_path / "cache", (9, 45), workers=1, progress=False)
    assert cache.classes == data.classes and cache.masks.shape == (3, 9, 45, 4)
    assert cache.ids == list(data.ids)
    np.testing.assert_array_equal(cache.positive_classes, data.positive())
    images, masks = cache.get_batch(range(3))
    for row, image_id in enumerate(data.ids):
        image, mask = data.sample(image_id, (9, 45))
        np.testing.assert_array_equal(images[row], image)
        np.testing.assert_array_equal(masks[row], mask)
    again = rlemask.SampleCache(tmp_path / "cache")
    assert again.classes == data.classes and again.positive_classes.shape == (3, 4)


@pytest.fixture
def gut(tmp_path):
    """A UW-Madison-like set: 16-bit PNG slices of two sizes, long layout, 3 organs."""
    import reference_rle as ref

    classes = ("large_bowel", "small_bowel", "stomach")
    rows, truth = ["id,class,segmentation"], {}
    for case, day, shape in ((7, 0, (21, 30)), (7, 1, (21, 30)), (43, 5, (26, 19))):
        for k in (1, 2):
            folder = tmp_path / "train" / f"case{case}" / f"case{case}_day{day}" / "scans"
            name = f"slice_{k:04d}_{shape[1]}_{shape[0]}_1.50_1.50.png"
            _png16(folder / name, shape, seed=case + k)
            image_id = f"case{case}_day{day}_slice_{k:04d}"
            truth[image_id] = np.zeros((*shape, 3), np.uint8)
            for c, cls in enumerate(classes):
                if (k + c + day) % 2:
                    mask = _box(shape, c + 2, c + 12, k, k + 9 + c)
                    truth[image_id][..., c] = mask
                    rows.append(f"{image_id},{cls},{ref.kaggle_encode(mask)}")
                else:
                    rows.append(f"{image_id},{cls},")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    return tmp_path, truth, classes


def test_uw_madison_slices_map_to_their_ids_and_shapes(gut, tmp_path):
    root, truth, classes = gut
    data = rlemask.load_dataset(root, root / "train.csv", pattern="train/**/*.png")
    assert data.ids == tuple(sorted(truth)) and data.classes == classes
    assert data.shape("case43_day5_slice_0002") == (26, 19)
    for image_id, expected in truth.items():
        image, mask = data.sample(image_id)
        np.testing.assert_array_equal(mask, expected)
        # 16-bit, scaled by the stored range: values below 4000 of 65535 stay dark
        assert image.max() <= 4000 / 65535 + 1 / 255
    # a pad cache of images of two sizes: one canvas, each row's offsets kept
    cache = data.build_cache(tmp_path / "c", 8, policy="pad", workers=1, progress=False)
    assert cache.img_size == (32, 32) and cache.policy == "pad"
    for row, image_id in enumerate(cache.ids):
        layout = cache.layout(row)
        assert layout.image_shape == data.shape(image_id)
        np.testing.assert_array_equal(layout.to_image(cache.masks[row]), truth[image_id])


def test_airbus_rows_per_ship_are_merged(tmp_path):
    import reference_rle as ref

    shape = (24, 24)
    ships = [_box(shape, 2, 5, 3, 9), _box(shape, 10, 20, 15, 18)]
    _jpeg(tmp_path / "train_v2" / "00003e153.jpg", shape)
    _jpeg(tmp_path / "train_v2" / "0001124c7.jpg", shape, seed=1)
    (tmp_path / "seg.csv").write_text(
        "ImageId,EncodedPixels\n00003e153.jpg,\n"
        + "".join(f"0001124c7.jpg,{ref.kaggle_encode(s)}\n" for s in ships))
    data = rlemask.load_dataset(tmp_path, tmp_path / "seg.csv", image_id="name",
                                format="kaggle")
    assert data.ids == ("00003e153.jpg", "0001124c7.jpg") and data.classes == ()
    _, mask = data.sample("0001124c7.jpg")
    assert mask.shape == (24, 24, 1)
    np.testing.assert_array_equal(mask[..., 0], ships[0] | ships[1])
    assert not data.sample("00003e153.jpg")[1].any()


def test_image_id_rules_unlabelled_and_duplicates(tmp_path):
    from rlemask.image_dataset import uw_madison_id

    for name in ("a", "b", "c"):
        _jpeg(tmp_path / "imgs" / f"{name}.png", (6, 5))
    _jpeg(tmp_path / "imgs" / "copy" / "a.png", (6, 5))  # a deeper copy of a
    (tmp_path / "labels.csv").write_text("ImageId,EncodedPixels\na,1 2 5 3\nb,\nz,\n")
    with pytest.warns(UserWarning) as record:
        data = rlemask.load_dataset(tmp_path, tmp_path / "labels.csv", format="kaggle")
    messages = [str(w.message) for w in record]
    # the same rule and message as load_siim: the shallowest copy is kept
    assert any("1 image ids have 1 duplicate copies (kept the shallowest path)" in m
               for m in messages)
    assert any("1 of 3 images have no row" in m and "'c'" in m for m in messages)
    assert any("1 of 3 ids" in m and "'z'" in m for m in messages)
    assert data.ids == ("a", "b", "c") and data.path("a") == tmp_path / "imgs" / "a.png"
    assert not data.is_labelled("c") and not data.sample("c")[1].any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dropped = rlemask.load_dataset(tmp_path, tmp_path / "labels.csv", format="kaggle",
                                       unlabelled="drop")
        upper = rlemask.load_dataset(tmp_path, tmp_path / "labels.csv", format="kaggle",
                                     image_id=lambda p: p.stem.upper())
    assert dropped.ids == ("a", "b") and upper.ids == ("A", "B", "C")
    with pytest.raises(ValueError, match="`image_id` must be one of"):
        rlemask.load_dataset(tmp_path, tmp_path / "labels.csv", image_id="suffix")
    with pytest.raises(KeyError, match="no image 'q'"):
        data.path("q")
    assert uw_madison_id("x/case1_day2/scans/slice_0003.png") == "case1_day2_slice_0003"
    assert uw_madison_id("x/case1/scans/slice_0003.png") is None


def test_labels_shape_columns_must_match_the_header(tmp_path):
    _jpeg(tmp_path / "a.png", (6, 5))
    (tmp_path / "l.csv").write_text("id,class,segmentation,height,width\na,x,1 2,5,6\n")
    data = rlemask.load_dataset(tmp_path, tmp_path / "l.csv", format="kaggle")
    with pytest.raises(ValueError, match=r"a\.png: the image is 6 x 5 but the labels give"):
        data.shape("a")


def test_real_siim_sample_loads_and_plots(real_dir):
    """The ten real SIIM DICOMs with their header-less, BOM-prefixed sample labels."""
    from rlemask.plotting import plot_sample

    data = rlemask.load_dataset(real_dir / "siim" / "dicom",
                                real_dir / "siim" / "train-rle-sample.asuiu.csv")
    assert len(data) == 10 and data.classes == () and data.format == "siim"
    positives = [i for i in data.ids if data.labels.rles(i)]
    assert len(positives) == 5
    for image_id in positives[:2]:
        assert data.shape(image_id) == (1024, 1024)
        image, mask = data.sample(image_id, 256)
        assert image.shape == (256, 256) and mask.shape == (256, 256, 1)
        full = rlemask.merge(data.labels.rles(image_id), shape=(1024, 1024))
        np.testing.assert_array_equal(
            mask[..., 0], rlemask.resize_mask(full, 256, method="area"))
        # the SIIM case of load_sample: the same mask, without the class axis
        _, plain = rlemask.load_sample(data.path(image_id), data.labels.rles(image_id))
        np.testing.assert_array_equal(plain, mask[..., 0])
    fig = plot_sample(data, positives[0], size=256)
    assert len(fig.axes) == 2


def test_split_a_data_set_by_patient(gut):
    root, truth, _ = gut
    data = rlemask.load_dataset(root, root / "train.csv")
    groups = {i: i.split("_day")[0] for i in data.ids}  # case7 (4 slices), case43 (2)
    folds = [split_dataset(data, n_folds=2, fold=k, groups=groups) for k in range(2)]
    for train, val in folds:
        assert sorted(train + val) == sorted(data.ids)
        assert {groups[i] for i in train}.isdisjoint(groups[i] for i in val)
    assert sorted(len(val) for _, val in folds) == [2, 4]


def test_the_datasets_page_examples_run(tmp_path, monkeypatch):
    import doctest

    monkeypatch.chdir(tmp_path)
    page = Path(__file__).resolve().parents[2] / "docs" / "datasets.md"
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.ELLIPSIS,
                              raise_on_error=False, verbose=False)
    assert result.attempted > 10 and result.failed == 0


def test_plot_command_helpers_name_ids_as_the_data_set_does(steel, tmp_path):
    """The id a user types for a Severstal image keeps its .jpg (in-process, no subprocess)."""
    import argparse

    from rlemask.cli import CommandError
    from rlemask.cli.plot import _plot_dataset

    root, _ = steel
    data = rlemask.load_dataset(root, root / "train.csv")
    args = argparse.Namespace(overview=False, image_id="0002cc93b", data=str(root))
    with pytest.raises(CommandError, match="no image with id '0002cc93b'"):
        _plot_dataset(args, data)
    args.overview, args.samples, args.seed = True, 2, 0
    fig, what = _plot_dataset(args, data)
    assert what == "overview of 3 images" and len(fig.axes) == 5


def test_an_undecided_rle_format_is_refused_not_guessed(tmp_path):
    _jpeg(tmp_path / "a.png", (6, 5))
    _jpeg(tmp_path / "b.png", (6, 5))
    # one single-run row: siim and kaggle read it the same, one pixel apart
    (tmp_path / "l.csv").write_text("ImageId,EncodedPixels\na,3 4\nb,\n")
    data = rlemask.load_dataset(tmp_path, tmp_path / "l.csv")
    assert data.format is None
    with pytest.raises(ValueError, match="undecided.*pass format='siim' or 'kaggle'"):
        data.sample("a")
    with pytest.raises(ValueError, match="undecided"):
        data.build_cache(tmp_path / "c", 4, workers=1, progress=False)
    assert not data.sample("b")[1].any()  # an empty image needs no format
    fixed = rlemask.load_dataset(tmp_path, tmp_path / "l.csv", format="kaggle")
    assert int(fixed.sample("a")[1].sum()) == 4
