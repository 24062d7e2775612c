"""The run's report files: ``report.json``, ``report.md``, ``curves.png``, ``overlays.png``.

:func:`build_report` makes the whole content of ``report.json`` in one call;
:func:`write_reports` writes it (``report.json`` last: with the digest of
the model it describes, it marks the run's final phase as done).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write
from rlemask_keras.run_folder import (
    CHECKPOINT_MONITOR,
    MODEL,
    OUTPUT_FILES,
    REPORT_JSON,
    REPORT_MD,
    SOME_RUNS_FILES,
)

__all__ = [
    "build_report",
    "best_epoch",
    "images_per_second",
    "add_cluster_figures",
    "write_reports",
    "save_curves",
    "save_overlays",
    "summary",
    "plural",
    "CHECKPOINT_MONITOR",
]


def best_epoch(
    history: Mapping[str, Sequence[float]], epochs: int, monitor: str = CHECKPOINT_MONITOR
) -> tuple[int, float]:
    """``(epoch, score)`` of the best ``monitor`` score (1-based); NaN epochs never win.

    Without any monitored score: ``(epochs, nan)`` (the last model is kept).

    Examples
    --------
    >>> best_epoch({CHECKPOINT_MONITOR: [0.2, float("nan"), 0.5, 0.4]}, 4)
    (3, 0.5)
    >>> best_epoch({}, 2)
    (2, nan)
    """
    monitored = history.get(monitor, [])
    finite = [v if v == v else -np.inf for v in monitored]
    if not monitored:
        return epochs, float("nan")
    best = int(np.argmax(finite))
    return best + 1, float(max(finite)) if finite[best] > -np.inf else float("nan")


def images_per_second(seconds: Sequence[float | None], images: Sequence[int | None]) -> float:
    """Training speed: the median over epochs of images / seconds, the first epoch left out.

    The first epoch includes compilation and tracing; it counts only when it
    is the only one.  Epochs without a record (None) are left out; NaN when
    none is left.

    Examples
    --------
    >>> images_per_second([9.0, 2.0, 4.0, 2.0], [100, 100, 100, 100])
    50.0
    >>> images_per_second([], [])
    nan
    """
    pairs = [(n, s) for s, n in zip(seconds, images, strict=False) if s and n is not None]
    pairs = pairs[1:] or pairs
    return float(np.median([n / s for n, s in pairs])) if pairs else float("nan")


def build_report(
    *, config, evaluation, history, data, training, parameters: int, model_sha256: str,
    wall_seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """The content of ``report.json`` (a JSON-ready dict), in one call.

    Parameters
    ----------
    config : TrainConfig
        The run's settings.
    evaluation : dict
        :func:`rlemask_keras.evaluate.evaluate_model`'s result.
    history : dict
        ``history.csv`` (:func:`rlemask_keras.run_folder.read_history`).
    data : rlemask_keras.training.RunData
        The images, split and cache of the run.
    training : rlemask_keras.training.Training
        Speed and time of ``fit`` (and the workers of a multi-worker run).
    parameters : int
        Parameters of the model.
    model_sha256 : str
        Digest of the ``model.keras`` the report describes.
    wall_seconds : float
        The run's time so far.
    """
    rep = evaluation["report"]
    beats = rep.mean_dice > rep.all_empty_baseline
    monitor = getattr(config, "monitor_key", CHECKPOINT_MONITOR)
    epoch, best = best_epoch(history, config.epochs, monitor)
    report: dict[str, Any] = {
        "evaluation": rep.to_dict(),
        "thresholds": evaluation["thresholds"],
        "plain_threshold_score": evaluation["plain_threshold_score"],
        "beats_all_empty_baseline": bool(beats),
        "model": {"file": MODEL, "sha256": model_sha256, "epoch": epoch},
        "training": {
            "epochs": config.epochs,
            "best_epoch": epoch,
            "checkpoint_monitor": monitor,
            "best_monitored": best,
            "best_val_dice_positive": _at(history, CHECKPOINT_MONITOR, epoch),
            "val_dice_at_best": _at(history, "val_dice", epoch),
            "images_per_second": training.images_per_second,
            "fit_seconds": training.fit_seconds,
        },
        "predict_images_per_second": evaluation["predict_images_per_second"],
        "wall_seconds": wall_seconds,
        "config": config.to_dict(),
        "data": {
            "root": str(data.root),
            "n_images": len(data.paths),
            "n_positive": data.n_positive,
            "n_train": training.n_train or len(data.train_paths),  # the worker's shard
            "n_validation": len(data.val_paths),
            "split": data.split,
            "cache": str(data.cache_dir),
            "skipped": [dict(s) for s in data.skipped],
        },
        "parameters": int(parameters),
    }
    for key in ("postprocess", "predictions_file"):  # the per-class path (``labels``)
        if key in evaluation:
            report[key] = evaluation[key]
    if "postprocess" in evaluation:  # what ``oof`` needs to predict the same images again
        report["data"]["validation_ids"] = [str(i) for i in data.val_paths]
    add_cluster_figures(report, training.workers, len(data.train_paths))
    if config.target is not None:
        report["target"] = {
            "dice_positive_min": config.target,
            "dice_positive": rep.dice_positive,
            "met": bool(rep.dice_positive >= config.target and beats),
        }
    return report


def add_cluster_figures(report: dict[str, Any], workers: int, n_train_split: int) -> None:
    """Label a multi-worker run's figures as one worker's, and add the cluster's.

    Under ``--strategy multiworker`` the report is the chief's: its
    ``data.n_train`` is the chief's shard (the shards are padded to one
    length) and its ``training.images_per_second`` the chief's speed.  Added:
    ``workers``, the same figures under ``*_per_worker`` names, the images of
    one epoch on all workers (``n_train_all_workers``; ``n_train_distinct`` of
    them distinct) and ``images_per_second_all_workers_estimate``: the
    chief's speed times the workers (they step together, but only the chief
    was timed).  Nothing changes for one worker.

    Examples
    --------
    >>> report = {"data": {"n_train": 5}, "training": {"images_per_second": 10.0}}
    >>> add_cluster_figures(report, 2, 9)
    >>> training = report["training"]
    >>> report["data"]["n_train_all_workers"], training["images_per_second_all_workers_estimate"]
    (10, 20.0)
    """
    if workers <= 1:
        return
    data, training = report["data"], report["training"]
    data.update(
        workers=workers,
        n_train_per_worker=data["n_train"],
        n_train_all_workers=data["n_train"] * workers,
        n_train_distinct=n_train_split,
    )
    ips = training["images_per_second"]
    training.update(
        workers=workers,
        images_per_second_per_worker=ips,
        images_per_second_all_workers_estimate=ips * workers,
    )


def _speed(training: Mapping[str, Any]) -> str:
    """The training speed as the summary and report.md give it: per worker, and the cluster's."""
    ips = training["images_per_second"]
    if "workers" not in training:
        return f"{ips:.1f} training images/s"
    return (
        f"{ips:.1f} training images/s per worker (about "
        f"{training['images_per_second_all_workers_estimate']:.1f} for "
        f"{training['workers']} workers, an estimate: the chief's speed x workers)"
    )


def _train_images(data: Mapping[str, Any]) -> str:
    """The training images of one epoch, per worker and on all workers (multiworker only)."""
    return (
        f"{data['n_train']} per worker, {data['n_train_all_workers']} on {data['workers']} "
        f"workers ({data['n_train_distinct']} distinct; the shards are padded to one length)"
    )


def _at(hist: Mapping[str, Sequence[float]], key: str, epoch: int) -> float:
    values = hist.get(key, [])
    return float(values[epoch - 1]) if 0 < epoch <= len(values) else float("nan")


def plural(n: int, noun: str) -> str:
    """``1 image``, ``2 images``: counts as people write them.

    Examples
    --------
    >>> plural(1, "epoch"), plural(3, "epoch")
    ('1 epoch', '3 epochs')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def summary(report: Mapping[str, Any], out: Path) -> str:
    """What the command prints at the end of a run: where the files are, and the scores."""
    ev, training = report["evaluation"], report["training"]
    written = [n for n in (*OUTPUT_FILES, *SOME_RUNS_FILES) if (Path(out) / n).exists()]
    lines = ["", f"results in {out}/:", *(f"  {out / name}" for name in written)]
    lines.append(
        f"competition score {_num(ev['mean_dice'])} (all-empty baseline "
        f"{_num(ev['all_empty_baseline'])}) on {plural(ev['n_images'], 'validation image')}; "
        f"Dice on positive images {_num(ev['dice_positive'])}, empty accuracy "
        f"{_num(ev['empty_accuracy'])}"
    )
    for cls, row in (ev.get("per_class") or {}).items():
        lines.append(f"  class {cls}: {_num(row['score'])} (all-empty "
                     f"{_num(row['all_empty_baseline'])}, positive images "
                     f"{_num(row['positive_only'])})")  # fmt: skip
    lines.append(
        f"{plural(training['epochs'], 'epoch')}, {_speed(training)}, "
        f"{report['wall_seconds']:.0f} s in all"
    )
    if "workers" in report.get("data", {}):
        lines.append(f"training images per epoch: {_train_images(report['data'])}")
    skipped = report.get("data", {}).get("skipped") or []
    if skipped:
        lines.append(f"skipped {plural(len(skipped), 'unreadable image')}: {_skipped(skipped)}")
    if "target" in report:
        target = report["target"]
        verdict = "met" if target["met"] else "NOT met"
        lines.append(
            f"target (Dice on positive images >= {target['dice_positive_min']}, above the "
            f"all-empty baseline): {verdict}"
        )
    return "\n".join(lines)


def _skipped(skipped: Sequence[Mapping[str, str]]) -> str:
    """The files left out (``on_error="skip"``): ids and errors, the first few."""
    shown = "; ".join(f"{s['path']} ({s['error']})" for s in skipped[:5])
    return shown + (f"; ... (all {len(skipped)} in report.json)" if len(skipped) > 5 else "")


def _num(value: float | None) -> str:
    """A report number; ``None`` (NaN in the report: nothing to average) shows as n/a."""
    return "n/a" if value is None or value != value else f"{value:.4f}"


def write_reports(out: Path, report: dict[str, Any], eval_report) -> None:
    """``report.md``, then ``report.json``, each written atomically.

    ``report.json`` comes last: it is the mark of a finished final phase.
    """
    thr, training, cfg = report["thresholds"], report["training"], report["config"]
    lines = [
        f"# rlemask-keras training report: {cfg['model']} / {cfg['activation']}",
        "",
        f"Validation split: {plural(report['data']['n_validation'], 'image')}, scored at "
        "their original resolution (probabilities resized back, then binarised).",
        "",
        eval_report.to_markdown(),
        "",
        "## Post-processing",
        "",
        *_per_class_lines(report.get("postprocess")),
        f"Triplet rule chosen on the validation split (grid of {thr['grid_size']}): "
        f"top={thr['top']}, min_area={thr['min_area']} px "
        f"({thr['min_area_1024']} at 1024x1024), bottom={thr['bottom']}.  "
        "Chosen and scored on the same images, so the score is optimistic by the "
        f"choice; with a plain 0.5 threshold it is {report['plain_threshold_score']:.4f}.",
        "",
    ]
    if "target" in report:
        target = report["target"]
        verdict = "**met**" if target["met"] else "**NOT met** (the numbers above are reached)"
        lines += [
            "## Target",
            "",
            f"Dice on positive images >= {target['dice_positive_min']} and a competition "
            f"score above the all-empty baseline: {verdict}.",
            "",
        ]
    lines += [
        "## Training",
        "",
        "| item | value |",
        "|---|---|",
        f"| model | {cfg['model']}, {cfg['activation']}, {cfg['filters']} filters, "
        f"depth {cfg['depth']}, {report['parameters']:,} parameters, loss {cfg['loss']} |",
        f"| input size | {cfg['img_size']} px, batch {cfg['batch_size']} |",
        f"| epochs | {training['epochs']}; checkpoint: epoch {training['best_epoch']}, best "
        f"validation Dice on positives {training['best_val_dice_positive']:.4f} (all images "
        f"{training['val_dice_at_best']:.4f}; threshold 0.5, model size) |",
        f"| training speed | {_speed(training).replace('training images', 'images')} |",
        f"| prediction + post-processing | {report['predict_images_per_second']:.1f} images/s |",
        f"| fit time | {training['fit_seconds']:.0f} s; whole run {report['wall_seconds']:.0f} s |",
        f"| data | {report['data']['root']} ({plural(report['data']['n_images'], 'image')}, "
        f"{report['data']['n_positive']} positive; {report['data']['split']}) |",
    ]
    if "workers" in report["data"]:
        lines.append(f"| training images per epoch | {_train_images(report['data'])} |")
    if report["data"].get("skipped"):
        lines.append(f"| skipped (unreadable) | {_skipped(report['data']['skipped'])} |")
    lines.append("")
    with atomic_write(out / REPORT_MD, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    with atomic_write(out / REPORT_JSON, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, default=_json_default)
        handle.write("\n")


def _per_class_lines(postprocess: Mapping[str, Any] | None) -> list[str]:
    """The per-class post-processing of a run on ``labels`` (``report.json``'s ``postprocess``)."""
    if not postprocess:
        return []
    lines = ["Chosen per class on the validation split (min_area counted at "
             f"{postprocess['reference']} x {postprocess['reference']}; gate: the presence "
             "head's probability below which the class is emptied):", "",
             "| class | top | min_area | bottom | gate |", "|---|---|---|---|---|"]  # fmt: skip
    for cls, row in postprocess["per_class"].items():
        gate = "none" if row["gate"] is None else row["gate"]
        lines.append(f"| {cls or 'all'} | {row['top']} | {row['min_area']} | {row['bottom']} "
                     f"| {gate} |")  # fmt: skip
    return [*lines, "", "For the first class:"]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def save_curves(
    history: Mapping[str, Sequence[float]], best_epoch: int, path: Path,
    monitor: str = CHECKPOINT_MONITOR,
) -> None:  # fmt: skip
    """Loss and Dice per epoch, train and validation, with the checkpoint's epoch marked
    (and the monitored score when it is not one of the Dice curves)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from rlemask.plotting import save_figure  # imports matplotlib

    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, key, title in (
        (fig.add_subplot(1, 2, 1), "loss", "Loss"),
        (fig.add_subplot(1, 2, 2), "dice", "Dice per image (threshold 0.5, model size)"),
    ):
        if key in history:
            ax.plot(epochs, history[key], "o-", label="train", ms=3)
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s-", label="validation", ms=3)
        if key == "dice" and CHECKPOINT_MONITOR in history:
            ax.plot(epochs, history[CHECKPOINT_MONITOR], "^-", label="validation, positive", ms=3)
        if key == "dice" and monitor != CHECKPOINT_MONITOR and monitor in history:
            ax.plot(epochs, history[monitor], "D-", label=f"{monitor} (checkpoint)", ms=3)
        if best_epoch:
            ax.axvline(best_epoch, color="grey", ls=":", label=f"checkpoint (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


def save_overlays(images, truths, preds, ids, path: Path) -> None:
    """Validation images with truth and prediction, at the model's size."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from rlemask.plotting import plot_prediction_grid, save_figure  # matplotlib

    fig = plot_prediction_grid(
        images, truths, preds, ids=ids, ncols=4, title="Validation, shown at the model's size"
    )
    save_figure(fig, path)
