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
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import rlemask
from rlemask.cache import CacheExistsError
from rlemask.datasets import is_positive
from rlemask.synthetic import GENERATOR_VERSION, make_dataset
from rlemask_keras import evaluate, fit, report, run_folder
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


def make_generators(config: TrainConfig, data: RunData, dist):
    """Stage 2: the training and validation generators; training: this worker's share."""
    from rlemask_keras.data import DataGenerator  # imports Keras

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
                model = fit.build_model(config)
        model = prepare_model(dist, model)
        log(
            f"model: {config.model}, {config.activation}, {config.filters} filters, depth "
            f"{config.model_depth}, {model.count_params():,} parameters, input "
            f"{config.img_size} px, {dist.replicas} replica(s)"
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
    best_epoch, best = report.best_epoch(history, config.epochs)
    per_worker = " per worker" if dist.num_workers > 1 else ""
    log(
        f"trained {plural(config.epochs - initial_epoch, 'epoch')} in {fit_seconds:.0f} s "
        f"({training.images_per_second:.1f} images/s{per_worker}); best validation Dice on "
        f"positives {best:.3f} at epoch {best_epoch}"
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
    report.save_curves(history, result["training"]["best_epoch"], out / run_folder.CURVES)
    report.save_overlays(*evaluation.pop("overlays"), out / run_folder.OVERLAYS)
    report.write_reports(out, result, evaluation["report"])
    return result


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
        data = prepare_data(config, log)
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
