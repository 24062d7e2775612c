"""``rlemask-keras train`` as a function: data, generators, fit, report.

:func:`train` reads top to bottom as the run goes, one named stage each:

1. :func:`prepare_data` -- the data (a folder, or the synthetic set), a
   stratified split (or one fold of ``folds``) and the sample cache;
2. :func:`make_generators` -- the training and validation batches, this
   worker's share of them under a multi-worker strategy;
3. :func:`fit_model` -- the model (:mod:`rlemask_keras.fit`) and
   ``model.fit`` with a checkpoint on the validation Dice, committed epoch
   by epoch into the run folder (:mod:`rlemask_keras.run_folder`);
4. :func:`finish` -- the evaluation of the best model on the validation
   images at their ORIGINAL resolution with post-processing thresholds
   chosen there (:mod:`rlemask_keras.evaluate`), and the report files
   (:mod:`rlemask_keras.report`).

A run killed after its last epoch resumes at stage 4 (``resume=True``).
The files of ``config.out`` are listed in :mod:`rlemask_keras.run_folder`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import rlemask
from rlemask.cache import CacheExistsError
from rlemask.datasets import is_positive
from rlemask.image_dataset import Dataset
from rlemask.synthetic import GENERATOR_VERSION, make_dataset
from rlemask_keras import class_evaluation, evaluate, fit, report, run_folder
from rlemask_keras._backend import tensorflow_left_out
from rlemask_keras.config import TrainConfig
from rlemask_keras.distribute import (
    check_strategy,
    prepare_model,
    replica_batch,
    select_strategy,
    worker_from_tf_config,
)
from rlemask_keras.report import plural
from rlemask_keras.run_folder import OUTPUT_FILES

__all__ = [
    "TrainConfig",
    "train",
    "synthetic_dataset",
    "load_data",
    "split",
    "sample_cache",
    "prepare_data",
    "make_generators",
    "fit_model",
    "finish",
    "RunData",
    "DatasetRun",
    "prepare_dataset",
    "OUTPUT_FILES",
]


def synthetic_dataset(
    root: str | os.PathLike, n_images: int, *, size: int = 1024, seed: int = 0
) -> Path:
    """The synthetic data set ``root/synthetic-v<version>-<seed>-<n>[-<size>]``: reused or made.

    Made in a temporary folder and renamed into place, so that an interrupted
    run never leaves a half-written set that a later run would reuse.  The
    generator's version is part of the name, so a changed generator never
    reuses an old set.
    """
    root = Path(root)
    name = f"synthetic-v{GENERATOR_VERSION}-{seed}-{n_images}" + (
        "" if size == 1024 else f"-{size}"
    )
    target = root / name
    if (target / "train-rle.csv").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    made = Path(make_dataset(tmp, n_images, size=size, seed=seed))
    if made != tmp:  # make_dataset returned a sub-folder: move that one
        made.rename(target)
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(target)
    return target


def load_data(root: Path) -> tuple[list[Path], dict[str, list[str]]]:
    """The labelled DICOMs under ``root`` and their labels (errors name ``data``)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"`data`: not a folder: {str(root)!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unlabelled images are dropped below
        paths, labels = rlemask.load_siim(root)
    if not paths:
        raise ValueError(f"`data`: no DICOM files (*.dcm) under {str(root)!r}")
    paths = [p for p in paths if p.stem in labels]
    if not paths:
        raise ValueError(f"`data`: none of the DICOM files under {str(root)!r} has a label row")
    return paths, labels


def split(config: TrainConfig, paths, labels) -> tuple[list[Path], list[Path], str]:
    """Train and validation paths: a stratified split, or fold ``k`` of ``K``."""
    if config.folds:
        train_paths, val_paths = rlemask.split_dataset(
            paths, labels, n_folds=config.folds, fold=config.fold, seed=config.seed
        )
        how = f"fold {config.fold} of {config.folds}"
    else:
        train_paths, val_paths = rlemask.split_dataset(
            paths, labels, val_fraction=config.val_fraction, seed=config.seed
        )
        how = f"validation fraction {config.val_fraction}"
    if not train_paths or not val_paths:
        raise ValueError(
            f"{how}: {plural(len(paths), 'image')} give {len(train_paths)} for training and "
            f"{len(val_paths)} for validation; both need at least one"
        )
    return train_paths, val_paths, how


def sample_cache(config: TrainConfig, data_root: Path, paths, labels):
    """The sample cache of every image, and its folder: reused, resumed or built.

    Every image, in ``load_siim``'s order: the cache does not depend on the
    split.  The default folder (beside the synthetic set, or ``OUT/cache``)
    belongs to the command, which replaces a cache of other inputs there;
    a ``cache_dir`` folder holding a cache of other inputs is the user's, and
    is refused (FileExistsError) rather than deleted.
    """
    given = config.cache_dir is not None
    cache_dir = Path(config.cache_dir) if given else (
        data_root / f"cache-{config.img_size}" if config.data is None
        else Path(config.out) / run_folder.CACHE
    )  # fmt: skip
    options = {"on_error": config.on_error} if config.on_error != "raise" else {}
    try:
        cache = rlemask.build_cache(
            paths,
            labels,
            cache_dir,
            img_size=config.img_size,
            workers=config.cache_workers,
            progress=config.progress,
            overwrite=not given,
            **options,
        )
    except CacheExistsError as err:
        raise FileExistsError(
            f"`cache_dir`: {str(cache_dir)!r} {err.reason}; choose another `cache_dir` folder, "
            "or remove that one to have it rebuilt"
        ) from None
    return cache, cache_dir


@dataclasses.dataclass
class RunData:
    """Stage 1's result: the images of a run, their split and their cache."""

    root: Path
    paths: list[Path]
    labels: dict[str, list[str]]
    train_paths: list[Path]
    val_paths: list[Path]
    split: str
    cache: Any
    cache_dir: Path
    #: files that could not be read (``on_error="skip"``): ``{"id", "path", "error"}``
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def n_positive(self) -> int:
        return sum(is_positive(self.labels[p.stem]) for p in self.paths)


def prepare_data(config: TrainConfig, log=print) -> RunData:
    """Stage 1: the data set, its split and its sample cache (nothing in ``out`` yet)."""
    if config.data is None:
        log(
            f"data: synthetic set, {plural(config.n_images, 'image')} of "
            f"{config.synthetic_size} px (seed {config.seed}) under {config.synthetic_root}"
        )
        root = synthetic_dataset(
            config.synthetic_root, config.n_images, size=config.synthetic_size, seed=config.seed
        )
    else:
        root = Path(config.data)
    root = root.resolve()
    paths, labels = load_data(root)
    cache, cache_dir = sample_cache(config, root, paths, labels)
    skipped = [dict(s) for s in getattr(cache, "skipped", [])]
    if skipped:  # unreadable files, listed in the report and the summary
        gone = {s["id"] for s in skipped}
        paths = [p for p in paths if p.stem not in gone]
        log(f"skipped {plural(len(skipped), 'unreadable image')}: "
            + ", ".join(s["id"] for s in skipped[:5]) + (" ..." if len(skipped) > 5 else ""))
    train_paths, val_paths, how = split(config, paths, labels)
    data = RunData(root, paths, labels, train_paths, val_paths, how, cache,
                   cache_dir.resolve(), skipped)  # fmt: skip
    log(
        f"split ({how}): {len(train_paths)} train / {len(val_paths)} validation images "
        f"({data.n_positive} of {len(paths)} positive)"
    )
    return data


#: a UW-Madison slice id, ``case<N>_day<M>_slice_<K>``: its case is the patient
_CASE = re.compile(r"^(case\d+)_day\d+_slice_\d+$")


@dataclasses.dataclass
class DatasetRun:
    """Stage 1's result for a data set of any layout (``labels``): the ids and their split.

    The attribute names of :class:`RunData` that the report reads hold ids
    here (``paths``, ``train_paths``, ``val_paths``).
    """

    root: Path
    dataset: Any
    train_paths: list[str]
    val_paths: list[str]
    split: str
    cache: Any = None
    cache_dir: Path | None = None
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return list(self.dataset.ids)

    @property
    def n_positive(self) -> int:
        return int(self.dataset.positive().any(axis=1).sum())

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.dataset.classes)

    def subset(self, ids) -> Dataset:
        """The images ``ids`` as a :class:`rlemask.Dataset` of their own (same labels)."""
        source = self.dataset
        return Dataset(source.root, {i: source.path(i) for i in ids}, source.labels)


def case_groups(ids) -> dict[str, str] | None:
    """The patient of each UW-Madison slice id (``case123``), or None when ids are not such.

    Examples
    --------
    >>> case_groups(["case1_day0_slice_0001", "case1_day3_slice_0002"])
    {'case1_day0_slice_0001': 'case1', 'case1_day3_slice_0002': 'case1'}
    >>> case_groups(["a.jpg"]) is None
    True
    """
    found = {i: _CASE.match(i) for i in ids}
    if not found or not all(found.values()):
        return None
    return {i: m.group(1) for i, m in found.items()}


def prepare_dataset(config: TrainConfig, log=print) -> DatasetRun:
    """Stage 1 with ``labels``: :func:`rlemask.load_dataset`, and a split by patient where the
    ids name one (UW-Madison's cases), else stratified on the images with a region."""
    data_dir = Path(config.data).resolve()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        dataset = rlemask.load_dataset(data_dir, config.labels, pattern=config.pattern,
                                       image_id=config.image_id)  # fmt: skip
    for warning in caught:
        log(f"warning: {warning.message}")
    if not len(dataset):
        raise ValueError(f"`data`: no image of `labels` {str(config.labels)!r} found under "
                         f"{str(data_dir)!r}")  # fmt: skip
    groups = case_groups(dataset.ids)
    options: dict[str, Any] = {"groups": groups} if groups else {}
    if config.folds:
        options.update(n_folds=config.folds, fold=config.fold)
        how = f"fold {config.fold} of {config.folds}"
    else:
        options.update(val_fraction=config.val_fraction)
        how = f"validation fraction {config.val_fraction}"
    how += f", by patient ({len(set(groups.values()))} cases)" if groups else ""
    train_ids, val_ids = rlemask.split_dataset(dataset, seed=config.seed, **options)
    if not train_ids or not val_ids:
        raise ValueError(
            f"{how}: {plural(len(dataset), 'image')} give {len(train_ids)} for training and "
            f"{len(val_ids)} for validation; both need at least one"
        )
    data = DatasetRun(data_dir, dataset, list(train_ids), list(val_ids), how)
    _check_scorable(config, data)
    classes = ", ".join(dataset.classes) or "one class"
    log(f"data: {len(dataset)} images ({classes}; {data.n_positive} with a region); split "
        f"({how}): {len(train_ids)} train / {len(val_ids)} validation")  # fmt: skip
    return data


#: metrics that need every image's (height, width): the final phase scores one size at a time
_SHAPE_METRICS = ("dice-hausdorff",)


def _check_scorable(config: TrainConfig, data: DatasetRun) -> None:
    """Refuse, before training, a validation set the final phase cannot score: images of
    several sizes under a metric that needs the size (UW-Madison's Hausdorff term)."""
    if config.competition is None:
        return
    if rlemask.competition(config.competition).metric not in _SHAPE_METRICS:
        return
    shapes = {data.dataset.shape(i) for i in data.val_paths}
    if len(shapes) > 1:
        raise ValueError(
            f"`competition` {config.competition}: its metric needs the images' size, and the "
            f"validation images have {len(shapes)} sizes ({sorted(shapes)[:3]} ...); the final "
            "phase scores one size at a time: train on the images of one size (`pattern`)"
        )


def _dataset_generators(config: TrainConfig, data: DatasetRun, dist):
    """Stage 2 with ``labels``: generators over the split's images (or their tiles)."""
    from rlemask_keras.data import DataGenerator  # imports Keras

    train_set: Any = data.subset(dist.even_shard(data.train_paths))  # this worker's share
    size: Any = config.img_size
    if config.tile is not None:
        share = 0.5 if train_set.positive().any() else None
        train_set = rlemask.TileDataset(train_set, config.tile, positive_share=share,
                                        seed=config.seed)  # fmt: skip
        size = config.tile
    replicas = dist.local_replicas
    common = dict(img_size=size, policy=config.policy, presence=config.classifier,
                  workers=config.workers, replicas=replicas)  # fmt: skip
    n_train = len(train_set.ids)
    train_gen = DataGenerator(
        train_set, batch_size=replica_batch(config.batch_size, n_train, replicas),
        seed=config.seed, augment=config.augment, positive_fraction=config.positive_fraction,
        epochs=config.epochs, **common,
    )  # fmt: skip
    val_set = data.subset(data.val_paths)
    val_common = {**common, "img_size": config.img_size if config.tile is None else config.tile}
    if config.tile is not None:  # whole validation images, padded to the tile's multiple
        val_common.update(policy="pad", img_size=2**config.model_depth)
    val_gen = DataGenerator(
        val_set, batch_size=replica_batch(config.batch_size, len(val_set.ids), replicas),
        shuffle=False, **val_common,
    )  # fmt: skip
    return train_gen, val_gen


def make_generators(config: TrainConfig, data: RunData, dist):
    """Stage 2: the training and validation generators; training: this worker's share."""
    from rlemask_keras.data import DataGenerator  # imports Keras

    if isinstance(data, DatasetRun):
        return _dataset_generators(config, data, dist)

    # each worker trains on its own share of the images, all shares of one length
    train_paths = dist.even_shard(data.train_paths)
    replicas = dist.local_replicas
    common = dict(
        img_size=config.img_size, cache=data.cache, workers=config.workers, replicas=replicas
    )
    train_gen = DataGenerator(
        train_paths,
        data.labels,
        batch_size=replica_batch(config.batch_size, len(train_paths), replicas),
        seed=config.seed,
        augment=config.augment,
        positive_fraction=config.positive_fraction,
        epochs=config.epochs,
        **common,
    )
    val_gen = DataGenerator(
        data.val_paths,
        data.labels,
        batch_size=replica_batch(config.batch_size, len(data.val_paths), replicas),
        shuffle=False,
        **common,
    )
    return train_gen, val_gen


@dataclasses.dataclass
class Training:
    """Stage 3's figures: speed and time of this run's ``fit``, and its workers."""

    images_per_second: float
    fit_seconds: float
    workers: int = 1
    n_train: int | None = None  # this worker's shard (padded) under multiworker


def fit_model(config: TrainConfig, data: RunData, initial_epoch: int, log=print) -> Training:
    """Stage 3: build (or resume) the model and train it; ``model.keras`` is the best epoch's."""
    import keras

    out = Path(config.out)
    previous_policy = fit.configure_precision(config.mixed_precision)
    try:
        dist = select_strategy(config.strategy)
        train_gen, val_gen = make_generators(config, data, dist)
        keras.utils.set_random_seed(config.seed)  # same seed, same initial weights
        state = run_folder.resume_state(out) if initial_epoch else None
        with dist.scope():
            if initial_epoch:  # resume_point found the state
                model = keras.models.load_model(out / state["last"])
                log(f"resuming after epoch {initial_epoch} of {config.epochs}")
            else:
                model = fit.build_model(config, classes=max(1, len(getattr(data, "classes", ()))))
        model = prepare_model(dist, model)
        log(
            f"model: {config.model}, {config.activation}, {config.filters} filters, depth "
            f"{config.model_depth}, {model.count_params():,} parameters, input "
            f"{_size_text(config)}, {dist.replicas} replica(s)"
        )
        t0 = time.perf_counter()
        times = fit.fit(model, train_gen, val_gen, config, initial_epoch=initial_epoch,
                        state=state, distribution=dist)  # fmt: skip
        fit_seconds = time.perf_counter() - t0
    finally:
        keras.config.set_dtype_policy(previous_policy)
    run_folder.keep_best(out, model)  # the last model when the monitored Dice was never a number
    training = Training(
        report.images_per_second(times, [len(train_gen.order)] * len(times)),
        fit_seconds,
        dist.num_workers,
        len(train_gen.order),
    )
    history = run_folder.read_history(out)
    best_epoch, best = report.best_epoch(history, config.epochs, config.monitor_key)
    per_worker = " per worker" if dist.num_workers > 1 else ""
    log(
        f"trained {plural(config.epochs - initial_epoch, 'epoch')} in {fit_seconds:.0f} s "
        f"({training.images_per_second:.1f} images/s{per_worker}); best {config.monitor_key} "
        f"{best:.3f} at epoch {best_epoch}"
    )
    return training


def finish(config: TrainConfig, data: RunData, training: Training | None, started: float,
           log=print) -> dict[str, Any]:  # fmt: skip
    """Stage 4: evaluate ``model.keras`` on the validation images; write the report files.

    ``training`` is None when a resumed run only finishes this stage: its
    speed is then the one the run folder's state recorded.
    """
    import keras

    out = Path(config.out)
    if training is None:
        state = run_folder.resume_state(out) or {}
        run_folder.keep_best(out)  # a run killed before it moved its best checkpoint
        seconds = state.get("train_seconds", [])
        training = Training(
            report.images_per_second(seconds, state.get("train_images", [])),
            float(sum(s for s in seconds if s is not None)),
        )
    best = keras.models.load_model(out / run_folder.MODEL)
    if isinstance(data, DatasetRun):
        evaluation = _evaluate_dataset(config, data, best, log)
    else:
        evaluation = evaluate.evaluate_model(
            best, data.val_paths, data.labels, cache=data.cache, batch_size=config.batch_size,
            n_overlays=config.n_overlays, log=log,
        )  # fmt: skip
    history = run_folder.read_history(out)
    result = report.build_report(
        config=config,
        evaluation=evaluation,
        history=history,
        data=data,
        training=training,
        parameters=int(best.count_params()),
        model_sha256=run_folder.model_digest(out / run_folder.MODEL),
        wall_seconds=time.perf_counter() - started,
    )
    report.save_curves(history, result["training"]["best_epoch"], out / run_folder.CURVES,
                       config.monitor_key)  # fmt: skip
    if "overlays" in evaluation:
        report.save_overlays(*evaluation.pop("overlays"), out / run_folder.OVERLAYS)
    if "page" in evaluation:  # the SIIM folder: the page of the same predictions, images by path
        _write_page(evaluation.pop("page"), out / run_folder.REPORT_HTML, data.val_paths, log)
    score_report = getattr(evaluation["report"], "report", None)  # a ScoreReport: the page
    if score_report is not None and hasattr(score_report, "to_html"):
        _write_page(score_report, out / run_folder.REPORT_HTML, data.subset(data.val_paths), log)
    report.write_reports(out, result, evaluation["report"])
    return result


def _write_page(score_report, path: Path, dataset, log) -> None:
    """``report.html``: rlemask's error-analysis page of the validation predictions.

    The page is a view; a failure to draw it is said, never the run's end.
    """
    try:
        score_report.to_html(path, data=dataset)
    except Exception as err:  # noqa: BLE001 - an optional figure must not lose the run
        log(f"report.html not written: {type(err).__name__}: {err}")


def _size_text(config: TrainConfig) -> str:
    """The model's input as the log says it: ``128 px``, ``64 x 400 px``, tiles, padding."""
    if config.tile is not None:
        return f"tiles of {config.tile} px"
    h, w = config.input_size
    size = f"{h} px" if h == w else f"{h} x {w} px"
    return size if config.policy == "resize" else f"padded to a multiple of {size}"


def _evaluate_dataset(config: TrainConfig, data: DatasetRun, model, log) -> dict[str, Any]:
    """Stage 4's evaluation with ``labels``: per class, in the competition's layout."""
    size: Any = config.img_size
    policy = config.policy
    if config.tile is not None:  # the model was built for any size: whole images
        size, policy = 2**config.model_depth, "pad"
    return class_evaluation.evaluate_dataset(
        model, data.dataset, data.val_paths, size=size, policy=policy,
        batch_size=config.batch_size, competition=config.competition,
        predictions_file=Path(config.out) / run_folder.PREDICTIONS, log=log,
    )  # fmt: skip


def train(config: TrainConfig, *, log=print) -> dict[str, Any]:
    """Train, evaluate and write the run's files into ``config.out``.

    Returns the ``report.json`` content as a dict.

    Raises
    ------
    ValueError, OSError
        User errors (bad settings, no data, an existing output folder): the
        messages name the parameters (``config``'s fields); the command line
        prints them on one line, naming the flags.

    Examples
    --------
    A tiny run on a tiny synthetic set (``rlemask-keras train`` does the same):

    >>> import tempfile
    >>> from rlemask_keras import TrainConfig, train
    >>> work = Path(tempfile.mkdtemp())
    >>> config = TrainConfig(
    ...     out=work / "run", synthetic_root=work, n_images=8, synthetic_size=64,
    ...     img_size=32, depth=1, filters=2, epochs=1, batch_size=4, progress=False)
    >>> report = train(config, log=lambda *args: None)
    >>> report["evaluation"]["n_images"], sorted(report["thresholds"])[:3]
    (2, ['bottom', 'grid_score', 'grid_size'])
    >>> (work / "run" / "model.keras").is_file()
    True
    """
    config.check()
    check_strategy(config.strategy)  # a strategy the backend lacks: before any data or out
    # JAX / PyTorch runs import TensorFlow only for a TensorFlow-only option
    needed = config.tensorboard or config.strategy == "multiworker"
    with tensorflow_left_out(needed), _worker_scratch(config) as config:
        started = time.perf_counter()
        initial_epoch, training_left = run_folder.resume_point(config)
        data = prepare_data(config, log) if config.labels is None else prepare_dataset(
            config, log)  # fmt: skip
        run_folder.start(config)  # the data and the cache are usable: only now touch out
        if training_left:
            training = fit_model(config, data, initial_epoch, log)
        else:
            log(f"the run's {plural(initial_epoch, 'epoch')} are done: finishing its report")
            training = None
        return finish(config, data, training, started, log)


@contextlib.contextmanager
def _worker_scratch(config: TrainConfig):
    """Multiworker training: only the chief (worker 0) writes into ``out``.

    The other workers train the same model and need somewhere to put their
    checkpoints and cache: a temporary folder, removed at the end.
    """
    if config.resume and config.strategy == "multiworker":
        # refused on every worker: a chief resuming alone would wait for the others
        raise ValueError("`resume`: not with `strategy` multiworker")
    index = worker_from_tf_config()[0] if config.strategy == "multiworker" else 0
    if not index:
        yield config
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"rlemask-worker{index}-"))
    try:
        yield dataclasses.replace(
            config, out=scratch / "out", overwrite=False, cache_dir=scratch / "cache"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
