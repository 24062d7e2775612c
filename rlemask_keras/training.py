"""``rlemask-keras train`` as a function: data, model, fit, evaluate, report.

:func:`train` reads top to bottom as the run goes: the data (a folder, or
the synthetic set), a stratified split (or one fold of ``--folds``), the
sample cache, the model (:mod:`rlemask_keras.fit`), ``model.fit`` with a
checkpoint on the validation Dice, the evaluation of the best model on the
validation images at their ORIGINAL resolution with post-processing
thresholds chosen there (:mod:`rlemask_keras.evaluate`), and the report
files (:mod:`rlemask_keras.report`).

Outputs (in ``config.out``)::

    model.keras    best model on validation Dice (keras.models.load_model)
    history.csv    one row per epoch (Keras CSVLogger)
    report.json    rlemask.evaluate report + thresholds, speed, settings
    report.md      the same for people
    curves.png     loss and Dice per epoch, train and validation
    overlays.png   validation images: truth vs prediction
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rlemask_keras.config import TrainConfig
from rlemask_keras.predict import predict
from rlemask_keras.report import plural

__all__ = ["TrainConfig", "train", "predict", "synthetic_dataset", "OUTPUT_FILES"]

OUTPUT_FILES = (
    "model.keras",
    "history.csv",
    "report.json",
    "report.md",
    "curves.png",
    "overlays.png",
)


def synthetic_dataset(
    root: str | os.PathLike, n_images: int, *, size: int = 1024, seed: int = 0
) -> Path:
    """The synthetic data set ``root/synthetic-v<version>-<seed>-<n>[-<size>]``: reused or made.

    Made in a temporary folder and renamed into place, so that an interrupted
    run never leaves a half-written set that a later run would reuse.  The
    generator's version is part of the name, so a changed generator never
    reuses an old set.
    """
    from rlemask.synthetic import GENERATOR_VERSION, make_dataset

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
    """The labelled DICOMs under ``root`` and their labels (errors name ``--data``)."""
    import rlemask

    if not root.is_dir():
        raise FileNotFoundError(f"--data: not a folder: {str(root)!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unlabelled images are dropped below
        paths, labels = rlemask.load_siim(root)
    if not paths:
        raise ValueError(f"--data: no DICOM files (*.dcm) under {str(root)!r}")
    paths = [p for p in paths if p.stem in labels]
    if not paths:
        raise ValueError(f"--data: none of the DICOM files under {str(root)!r} has a label row")
    return paths, labels


def split(config: TrainConfig, paths, labels) -> tuple[list[Path], list[Path], str]:
    """Train and validation paths: a stratified split, or fold ``k`` of ``K``."""
    import rlemask

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
    a ``--cache`` folder holding a cache of other inputs is the user's, and
    is refused (FileExistsError) rather than deleted.
    """
    import rlemask
    from rlemask.cache import CacheExistsError

    given = config.cache_dir is not None
    cache_dir = Path(config.cache_dir) if given else (
        data_root / f"cache-{config.img_size}" if config.data is None
        else Path(config.out) / "cache"
    )  # fmt: skip
    try:
        cache = rlemask.build_cache(
            paths,
            labels,
            cache_dir,
            img_size=config.img_size,
            workers=config.cache_workers,
            progress=config.progress,
            overwrite=not given,
        )
    except CacheExistsError as err:
        raise FileExistsError(
            f"--cache: {str(cache_dir)!r} {err.reason}; choose another --cache folder, or "
            "remove that one to have it rebuilt"
        ) from None
    return cache, cache_dir


def check_out(config: TrainConfig) -> int:
    """Check ``--out`` before any work; returns the epoch to start from (``--resume``).

    An existing non-empty folder is refused unless ``--overwrite`` (which
    removes only this command's files) or ``--resume`` (which needs the state
    of an unfinished or shorter run, with the same settings).
    """
    from rlemask_keras.fit import resume_state

    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out: {str(out)!r} exists and is not a folder")
    if config.resume:
        state = resume_state(out)
        if state is None:
            raise FileNotFoundError(
                f"--resume: {str(out)!r} holds no run to resume (no .state.json naming a saved "
                "model)"
            )
        saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
        differences = config.differences(saved)
        if differences:
            raise ValueError(f"--resume: settings differ from the run: {'; '.join(differences)}")
        if state["epoch"] >= config.epochs:
            raise ValueError(
                f"--resume: the run in {str(out)!r} already has {plural(state['epoch'], 'epoch')}; "
                f"ask for more with --epochs"
            )
        return int(state["epoch"])
    if out.is_dir() and any(out.iterdir()) and not config.overwrite:
        raise FileExistsError(
            f"--out: {str(out)!r} already exists and is not empty; pass --overwrite "
            "to replace its results, --resume to continue its training, or choose "
            "another folder"
        )
    return 0


def start_out(config: TrainConfig) -> None:
    """Make ``--out`` (``--overwrite``: remove this command's files) and record the settings."""
    from rlemask._atomic import atomic_write
    from rlemask_keras.fit import state_files

    out = Path(config.out)
    if config.resume:
        return
    for path in (*(out / name for name in OUTPUT_FILES), *state_files(out)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    shutil.rmtree(out / "logs", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "config.json", "w", encoding="utf-8") as handle:
        json.dump(config.to_dict(), handle, indent=2)


def train(config: TrainConfig, *, log=print) -> dict[str, Any]:
    """Train, evaluate and write the run's files into ``config.out``.

    Returns the ``report.json`` content as a dict.

    Raises
    ------
    ValueError, OSError
        User errors (bad settings, no data, an existing output folder): the
        command line prints them on one line, naming the flag.

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
    from rlemask_keras._backend import tensorflow_left_out

    config.check()
    from rlemask_keras.distribute import check_strategy

    check_strategy(config.strategy)  # a strategy the backend lacks: before any data or --out
    # JAX / PyTorch runs import TensorFlow only for a TensorFlow-only option
    needed = config.tensorboard or config.strategy == "multiworker"
    with tensorflow_left_out(needed), _worker_scratch(config) as config:
        return _train(config, log)


@contextlib.contextmanager
def _worker_scratch(config: TrainConfig):
    """Multiworker training: only the chief (worker 0) writes into ``--out``.

    The other workers train the same model and need somewhere to put their
    checkpoints and cache: a temporary folder, removed at the end.
    """
    from rlemask_keras.distribute import worker_from_tf_config

    if config.resume and config.strategy == "multiworker":
        # refused on every worker: a chief resuming alone would wait for the others
        raise ValueError("--resume: not with --strategy multiworker")
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


def _train(config: TrainConfig, log) -> dict[str, Any]:
    initial_epoch = check_out(config)
    out = Path(config.out)
    started = time.perf_counter()

    import keras

    from rlemask.datasets import is_positive
    from rlemask_keras import evaluate, fit, report
    from rlemask_keras.data import DataGenerator
    from rlemask_keras.distribute import prepare_model, replica_batch, select_strategy

    # data
    if config.data is None:
        log(
            f"data: synthetic set, {plural(config.n_images, 'image')} of "
            f"{config.synthetic_size} px (seed {config.seed}) under {config.synthetic_root}"
        )
        data_root = synthetic_dataset(
            config.synthetic_root, config.n_images, size=config.synthetic_size, seed=config.seed
        )
    else:
        data_root = Path(config.data)
    paths, labels = load_data(data_root)
    train_paths, val_paths, how = split(config, paths, labels)
    n_pos = sum(is_positive(labels[p.stem]) for p in paths)
    log(
        f"split ({how}): {len(train_paths)} train / {len(val_paths)} validation images "
        f"({n_pos} of {len(paths)} positive)"
    )
    cache, cache_dir = sample_cache(config, data_root, paths, labels)
    start_out(config)  # the data and the cache are usable: only now touch --out

    # model and fit
    previous_policy = fit.configure_precision(config.mixed_precision)
    try:
        dist = select_strategy(config.strategy)
        n_train_split = len(train_paths)
        if dist.num_workers > 1:  # each worker trains on its own share of the images
            # the workers step together, so their shares must be equally long
            # (else a collective op fails): the last ones borrow from the start
            # (as torch's DistributedSampler pads)
            whole = -(-len(train_paths) // dist.num_workers) * dist.num_workers
            train_paths = dist.shard([train_paths[i % len(train_paths)] for i in range(whole)])
        replicas = dist.local_replicas
        common = dict(
            img_size=config.img_size, cache=cache, workers=config.workers, replicas=replicas
        )
        train_gen = DataGenerator(
            train_paths,
            labels,
            batch_size=replica_batch(config.batch_size, len(train_paths), replicas),
            seed=config.seed,
            augment=config.augment,
            positive_fraction=config.positive_fraction,
            epochs=config.epochs,
            **common,
        )
        val_gen = DataGenerator(
            val_paths,
            labels,
            batch_size=replica_batch(config.batch_size, len(val_paths), replicas),
            shuffle=False,
            **common,
        )
        keras.utils.set_random_seed(config.seed)  # same seed, same initial weights
        state = fit.resume_state(out) if initial_epoch else None
        with dist.scope():
            if initial_epoch:  # check_out found the state
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
        times = fit.fit(
            model,
            train_gen,
            val_gen,
            config,
            initial_epoch=initial_epoch,
            state=state,
            distribution=dist,
        )
        fit_seconds = time.perf_counter() - t0
    finally:
        keras.config.set_dtype_policy(previous_policy)

    hist = fit.read_history(out / "history.csv")
    monitored = hist.get(report.CHECKPOINT_MONITOR, [])
    finite = [v if v == v else -np.inf for v in monitored]
    best_epoch = int(np.argmax(finite)) + 1 if monitored else config.epochs
    fit.keep_best(out, model)  # the last model when the monitored Dice was never a number
    # the epochs after the first exclude compilation and tracing
    times = times[1:] or times
    train_ips = len(train_gen.order) / float(np.median(times)) if times else float("nan")
    per_worker = " per worker" if dist.num_workers > 1 else ""
    log(
        f"trained {plural(config.epochs - initial_epoch, 'epoch')} in {fit_seconds:.0f} s "
        f"({train_ips:.1f} images/s{per_worker}); best validation Dice on positives "
        f"{max(finite, default=float('nan')):.3f} at epoch {best_epoch}"
    )

    best = keras.models.load_model(out / "model.keras")
    evaluation = evaluate.evaluate_model(
        best,
        val_paths,
        labels,
        cache=cache,
        batch_size=config.batch_size,
        n_overlays=config.n_overlays,
        log=log,
    )
    wall = time.perf_counter() - started
    result = report.build_report(config, evaluation, hist, best_epoch, train_ips, fit_seconds, wall)
    result["data"] = {
        "root": str(data_root),
        "n_images": len(paths),
        "n_positive": n_pos,
        "n_train": len(train_paths),  # this worker's shard under multiworker
        "n_validation": len(val_paths),
        "split": how,
        "cache": str(cache_dir),
    }
    report.add_cluster_figures(result, dist.num_workers, n_train_split)
    result["parameters"] = int(best.count_params())
    report.save_curves(hist, best_epoch, out / "curves.png")
    report.save_overlays(*evaluation.pop("overlays"), out / "overlays.png")
    report.write_reports(out, result, evaluation["report"])
    return result
