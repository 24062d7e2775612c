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
