"""Out-of-fold thresholds: the post-processing chosen on every fold's validation images.

Each run of ``rlemask-keras train --folds K --fold k`` validated its model
on fold ``k``; together the folds cover every image once.  :func:`out_of_fold`
predicts each run's validation images with that run's model (images it
never trained on), chooses one triplet on all of them
(:func:`rlemask_keras.evaluate.score_probabilities`) and scores it: a fairer
choice than any single fold's, and the thresholds an ensemble of the folds'
models is applied with (``rlemask-keras predict ... --thresholds oof.json``).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rlemask
from rlemask._atomic import atomic_write
from rlemask_keras.class_evaluation import choose_and_score, predict_dataset
from rlemask_keras.evaluate import score_probabilities
from rlemask_keras.predict import load_keras_model, predict_probabilities
from rlemask_keras.report import plural
from rlemask_keras.run_folder import MODEL, REPORT_JSON, report_matches_model
from rlemask_keras.training import load_data

__all__ = ["out_of_fold"]


def _run_validation(run: Path) -> tuple[Path, list[str]]:
    """The data root and the validation ids recorded in a run's ``report.json``."""
    try:
        report = json.loads((run / REPORT_JSON).read_text(encoding="utf-8"))
        root = Path(report["data"]["root"])
        ids = report["data"].get("validation_ids") or [
            row["id"] for row in report["evaluation"]["per_image"]]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"`runs`: {str(run)!r} holds no finished rlemask-keras train run "
            f"(report.json: {type(err).__name__})"
        ) from None
    if not (run / MODEL).is_file():
        raise FileNotFoundError(f"`runs`: no model.keras in {str(run)!r}")
    if not report_matches_model(report, run / MODEL):
        raise ValueError(
            f"`runs`: the report.json in {str(run)!r} describes another model than its "
            "model.keras (the run was stopped before its report was rewritten); finish it "
            "with 'rlemask-keras train --resume'"
        )
    return root, ids, report


def _per_class(runs, recorded, *, out, tta, batch_size, log) -> dict[str, Any]:
    """:func:`out_of_fold` of runs on ``labels``: each class's triplet (and gate) chosen on
    every fold's validation images, scored in the competition's layout."""
    if tta not in (None, "none"):
        raise ValueError("`tta`: not with runs trained on `labels` (per class) yet")
    configs = [report["config"] for _, _, report in recorded]
    keys = ("data", "labels", "pattern", "image_id", "competition")
    if len({tuple(str(c.get(k)) for k in keys) for c in configs}) != 1:
        raise ValueError("`runs`: the runs trained on different data sets or competitions")
    cfg = configs[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # said when the runs loaded it
        dataset = rlemask.load_dataset(cfg["data"], cfg["labels"], pattern=cfg.get("pattern"),
                                       image_id=cfg.get("image_id"))  # fmt: skip
    missing = [i for _, ids, _ in recorded for i in ids if i not in dataset]
    if missing:
        raise ValueError(
            f"`runs`: {plural(len(missing), 'validation image')} no longer in the data set"
        )

    import keras  # the runs' models: several classes, maybe the presence head

    def maps():
        for run, (_, ids, report) in zip(runs, recorded, strict=True):
            conf = report["config"]
            size = conf["img_size"] if not conf.get("tile") else 2 ** conf["depth"]
            size = tuple(size) if isinstance(size, list) else size
            policy = "pad" if conf.get("tile") else conf.get("policy", "resize")
            model = keras.models.load_model(run / MODEL)
            yield from predict_dataset(model, dataset, ids, size=size, policy=policy,
                                       batch_size=batch_size)  # fmt: skip

    result = choose_and_score(maps(), dataset, competition=cfg.get("competition"),
                              log=lambda *a: None)  # fmt: skip
    summary = result["report"]
    content = {
        "postprocess": result["postprocess"],
        "thresholds": result["thresholds"],
        "plain_threshold_score": result["plain_threshold_score"],
        "evaluation": summary.to_dict(),
        "runs": [str(r) for r in runs],
        "tta": "none",
    }
    _write(out, content)
    per_class = "; ".join(f"{c or 'all'}: top={r['top']}, min_area={r['min_area']}, "
                          f"bottom={r['bottom']}, gate={r['gate']}"
                          for c, r in result["postprocess"]["per_class"].items())  # fmt: skip
    log(f"out-of-fold: {plural(summary.report.n_images, 'image')} from "
        f"{plural(len(runs), 'run')}; {per_class}; score {summary.mean_dice:.4f} (all-empty "
        f"baseline {summary.all_empty_baseline:.4f}, positive images "
        f"{summary.dice_positive:.4f})" + (f"; wrote {out}" if out is not None else ""))
    return content


def _write(out, content) -> None:
    if out is not None:
        with atomic_write(out, "w", encoding="utf-8") as handle:
            json.dump(content, handle, indent=2)
            handle.write("\n")


def out_of_fold(
    runs: Sequence[str | os.PathLike],
    *,
    out: str | os.PathLike | None = None,
    tta: str | None = None,
    batch_size: int = 16,
    log=print,
) -> dict[str, Any]:
    """Choose and score the triplet on the runs' validation images; write ``out`` (JSON).

    Returns the JSON content: ``thresholds`` (as in a run's report),
    ``evaluation`` (:meth:`rlemask.EvalReport.to_dict` of the chosen triplet),
    ``runs``.  Runs trained on ``labels`` (any layout, ``C`` classes) get each
    class's triplet -- and gate, with the presence head -- chosen on all the
    folds' images together, under ``postprocess`` as in their reports, and
    the score of the competition they were trained for.

    Raises
    ------
    ValueError
        A folder without a finished run, runs on different data sets, or
        validation images shared by two runs (not folds of one split).
    """
    runs = [Path(r) for r in runs]
    if not runs:
        raise ValueError("`runs`: give at least one training run folder")
    recorded = [_run_validation(run) for run in runs]
    roots = {root for root, _, _ in recorded}
    if len(roots) != 1:
        raise ValueError(
            f"`runs`: the runs trained on different data sets: {sorted(map(str, roots))}"
        )
    all_ids = [i for _, ids, _ in recorded for i in ids]
    if len(set(all_ids)) != len(all_ids):
        raise ValueError(
            "`runs`: the runs' validation images overlap; give the runs of the folds of one "
            "split (--folds K with the same --seed, each --fold once)"
        )
    if any("postprocess" in report for _, _, report in recorded):
        return _per_class(runs, recorded, out=out, tta=tta, batch_size=batch_size, log=log)
    root = roots.pop()
    try:
        paths, labels = load_data(root)
    except (OSError, ValueError) as err:
        raise type(err)(
            f"`runs`: the data set the runs trained on ({str(root)!r}): "
            + str(err).removeprefix("`data`: ")
        ) from None
    by_id = {p.stem: p for p in paths}
    missing = [i for i in all_ids if i not in by_id]
    if missing:
        raise ValueError(
            f"`runs`: {plural(len(missing), 'validation image')} no longer in the data set"
        )

    def probabilities():
        for run, (_, ids, _) in zip(runs, recorded, strict=True):
            model = load_keras_model(run / MODEL)
            yield from predict_probabilities(
                model, [by_id[i] for i in ids], tta=tta, batch_size=batch_size
            )

    result = score_probabilities(probabilities(), labels)
    report, thr = result["report"], result["thresholds"]
    content = {
        "thresholds": thr,
        "plain_threshold_score": result["plain_threshold_score"],
        "evaluation": report.to_dict(),
        "runs": [str(r) for r in runs],
        "tta": tta or "none",
    }
    _write(out, content)
    log(
        f"out-of-fold: {plural(report.n_images, 'image')} from {plural(len(runs), 'run')}; "
        f"thresholds top={thr['top']}, min_area={thr['min_area_1024']} at 1024 px, "
        f"bottom={thr['bottom']}; competition score {report.mean_dice:.4f} (all-empty "
        f"baseline {report.all_empty_baseline:.4f}), Dice on positive images "
        f"{report.dice_positive:.4f}" + (f"; wrote {out}" if out is not None else "")
    )
    return content
