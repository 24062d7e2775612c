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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlemask._atomic import atomic_write
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
        ids = [row["id"] for row in report["evaluation"]["per_image"]]
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
    return root, ids


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
    ``runs``.

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
    roots = {root for root, _ in recorded}
    if len(roots) != 1:
        raise ValueError(
            f"`runs`: the runs trained on different data sets: {sorted(map(str, roots))}"
        )
    all_ids = [i for _, ids in recorded for i in ids]
    if len(set(all_ids)) != len(all_ids):
        raise ValueError(
            "`runs`: the runs' validation images overlap; give the runs of the folds of one "
            "split (--folds K with the same --seed, each --fold once)"
        )
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
        for run, (_, ids) in zip(runs, recorded, strict=True):
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
    if out is not None:
        with atomic_write(out, "w", encoding="utf-8") as handle:
            json.dump(content, handle, indent=2)
            handle.write("\n")
    log(
        f"out-of-fold: {plural(report.n_images, 'image')} from {plural(len(runs), 'run')}; "
        f"thresholds top={thr['top']}, min_area={thr['min_area_1024']} at 1024 px, "
        f"bottom={thr['bottom']}; competition score {report.mean_dice:.4f} (all-empty "
        f"baseline {report.all_empty_baseline:.4f}), Dice on positive images "
        f"{report.dice_positive:.4f}" + (f"; wrote {out}" if out is not None else "")
    )
    return content
