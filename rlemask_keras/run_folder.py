"""The ``--out`` folder of a training run: its files, its checkpoints and their commit point.

One module knows the layout; the rest of the adapter asks it for names::

    config.json      the settings (TrainConfig.to_dict), written when the run starts
    history.csv      one row per epoch (Keras CSVLogger)
    .state.json      {"epoch": n, "best": score, "last": ".last-n.keras",
                      "best_model": ".best-m.keras", "train_seconds": [...],
                      "train_images": [...]}
    .last-n.keras    model and optimizer after epoch n, the last completed one
    .best-m.keras    the checkpoint of the best validation Dice on positive
                     images so far (epoch m; none while no score is a number)
    model.keras      the best model, once training is done
    report.json      the final phase: evaluation, thresholds, and the model it
    report.md        describes ("model": {"sha256": ...})
    curves.png, overlays.png
    logs/train/, logs/validation/   TensorBoard (with --tensorboard)
    cache/           the sample cache (a run on --data without --cache)

``.state.json`` is the run's single commit point.  After each epoch the new
checkpoints are written (each to a temporary file renamed into place), then
the state naming them is replaced atomically (:func:`commit_epoch`), and
only then are the files of the previous state removed.  A run killed at any
moment therefore resumes from a state whose files are complete and of its
epoch: never the weights of epoch n + 1 with the state of epoch n, never a
truncated best model.  Runs written before the numbered checkpoints
(``.last.keras``, ``.best.keras``, a state without ``last``) are resumed as
they are.

The final phase (evaluation, thresholds, report) comes after the last
epoch's commit; ``report.json`` records the SHA-256 of the ``model.keras``
it describes (:func:`report_matches_model`), so a report left beside
another model -- a run killed during its final phase -- is recognised, and
``--resume`` finishes that phase (:func:`resume_point`).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlemask import _atomic

__all__ = [
    "CONFIG",
    "HISTORY",
    "MODEL",
    "REPORT_JSON",
    "REPORT_MD",
    "CURVES",
    "OVERLAYS",
    "STATE",
    "LOGS",
    "CACHE",
    "OUTPUT_FILES",
    "PREDICTIONS",
    "REPORT_HTML",
    "SOME_RUNS_FILES",
    "CHECKPOINT_MONITOR",
    "resume_state",
    "state_files",
    "save_model",
    "commit_epoch",
    "keep_best",
    "keep_history_rows",
    "read_history",
    "model_digest",
    "report_matches_model",
    "resume_point",
    "start",
    "is_run_config",
]

CONFIG = "config.json"
HISTORY = "history.csv"
MODEL = "model.keras"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CURVES = "curves.png"
OVERLAYS = "overlays.png"
STATE = ".state.json"
LOGS = "logs"
#: the sample cache's default folder for a run on a data folder (``cache_dir`` not given)
CACHE = "cache"
#: the folders of ``logs/`` that Keras' TensorBoard callback writes
TENSORBOARD_DIRS = ("train", "validation")
#: what a finished run leaves for its users
OUTPUT_FILES = (MODEL, HISTORY, REPORT_JSON, REPORT_MD, CURVES, OVERLAYS)
#: written by some runs only: a run on ``labels`` writes its validation predictions in
#: the competition's layout (and no overlays); report.html where rlemask has the page
PREDICTIONS = "validation-predictions.csv"
REPORT_HTML = "report.html"
SOME_RUNS_FILES = (PREDICTIONS, REPORT_HTML)
#: the folder of report.html's images (rlemask.report_page)
REPORT_ASSETS = "report_files"

#: the checkpoint keeps the epoch of the best validation Dice on positive
#: images (docs/training.md, "Choosing the checkpoint", says why)
CHECKPOINT_MONITOR = "val_dice_positive"

#: fixed names of an unfinished run's files, kept for ``--resume`` (besides the
#: numbered checkpoints, see :func:`state_files`); ``.best.keras`` and
#: ``.last.keras`` are the checkpoints of runs written before they were numbered
STATE_FILES = (STATE, CONFIG, ".best.keras", ".last.keras")
# a checkpoint of the run: numbered, or of the layout before (and its fixed temporary)
_CHECKPOINT = re.compile(r"\.(last|best)(-[1-9][0-9]*|\.tmp)?\.keras")
# what a state may name (a resumed run of the layout before keeps its ``.best.keras``)
_NAMES = {"last": re.compile(r"\.last(-[1-9][0-9]*)?\.keras"),
          "best_model": re.compile(r"\.best(-[1-9][0-9]*)?\.keras")}  # fmt: skip
# a temporary of rlemask._atomic's writes of a checkpoint: "..last-3.keras.<owner>.tmp"
_CHECKPOINT_TMP = re.compile(r"\.(?P<target>\.(last|best)-[1-9][0-9]*\.keras)\..+\.tmp")
# settings every run's config.json holds: how a folder is known as a run's
_RUN_KEYS = frozenset({"out", "img_size", "epochs", "model", "loss", "batch_size"})


# -- the state: the commit point ------------------------------------------------


def resume_state(out: Path) -> dict[str, Any] | None:
    """The state of the run in ``out``, or None when it has none.

    A dict with ``epoch`` (the last completed one), ``best`` (the best
    monitored score so far, or None), ``last`` and ``best_model`` (names of
    the checkpoints in ``out``; ``best_model`` is None before any score).
    A state that names a missing or foreign file is no state.

    Examples
    --------
    >>> import tempfile
    >>> resume_state(Path(tempfile.mkdtemp())) is None
    True
    """
    try:
        state = json.loads((Path(out) / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if type(epoch) is not int or epoch < 1:
        return None
    if "last" not in state:  # written before the numbered checkpoints
        state.update(last=".last.keras", best_model=".best.keras")
    else:
        for key, name in _NAMES.items():
            value = state.get(key)
            if not (isinstance(value, str) and name.fullmatch(value)):
                if key == "last" or value is not None:
                    return None
    if not (Path(out) / state["last"]).is_file():
        return None
    return state


def state_files(out: Path) -> list[Path]:
    """The files of ``out`` that make a run's state (checkpoints, state, settings).

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> for name in (".state.json", ".last-2.keras", ".best-1.keras", "model.keras"):
    ...     _ = (out / name).write_text("")
    >>> [p.name for p in state_files(out)]
    ['.best-1.keras', '.last-2.keras', '.state.json']
    """
    try:
        names = {n for n in os.listdir(out) if n in STATE_FILES or _CHECKPOINT.fullmatch(n)}
    except OSError:
        return []
    return [Path(out) / name for name in sorted(names) if (Path(out) / name).is_file()]


def save_model(model, path: Path) -> None:
    """``model.save(path)``, written atomically: a kill mid-save leaves ``path`` as it was.

    The archive goes to a temporary file next to ``path`` (named and cleaned
    up as :mod:`rlemask._atomic` does), renamed over ``path`` once complete.
    """
    # model.save takes a path ending in ".keras" only; the library function it
    # calls for such a path also writes to an open file (the same archive)
    from keras.src.saving import saving_lib

    with _atomic.atomic_write(path, "wb") as handle:
        saving_lib.save_model(model, handle)


def _copy(source: Path, target: Path) -> None:
    """Copy a checkpoint atomically (the same archive as saving the model again, faster)."""
    with open(source, "rb") as src, _atomic.atomic_write(target, "wb") as handle:
        shutil.copyfileobj(src, handle)


def _tidy(out: Path, keep: set[str | None]) -> None:
    """Remove the checkpoints no state names any more, and stale temporaries of checkpoints."""
    for path in state_files(out):
        if _CHECKPOINT.fullmatch(path.name) and path.name not in keep:
            with contextlib.suppress(OSError):  # tidying must never fail the run
                path.unlink()
    with contextlib.suppress(OSError):
        targets = {m["target"] for n in os.listdir(out) if (m := _CHECKPOINT_TMP.fullmatch(n))}
        for target in targets:  # the rule of rlemask._atomic: only a dead writer's
            _atomic.remove_stale_temporaries(out / target)


def _improves(value, best: float | None) -> bool:
    """Mode "max": a number above ``best`` (any number when there is none); NaN never."""
    if value is None:
        return False
    value = float(value)
    return value == value and (best is None or value > best)


def commit_epoch(
    out: Path, model, epoch: int, value, previous: Mapping[str, Any]
) -> dict[str, Any]:
    """Save epoch ``epoch``'s checkpoints, then commit the state naming them; returns it.

    ``value`` is the monitored score of the epoch; ``previous`` the state
    before (``best``, ``best_model``, ``train_seconds``, ``train_images``;
    extra keys ``seconds`` and ``images``, this epoch's training time and
    images, are appended to the latter two).  The best model is kept as
    Keras' ``ModelCheckpoint(monitor, mode="max", save_best_only=True,
    initial_value_threshold=best)`` keeps it.
    """
    out = Path(out)
    last = f".last-{epoch}.keras"
    save_model(model, out / last)
    best, best_model = previous.get("best"), previous.get("best_model")
    if _improves(value, best):
        best, best_model = float(value), f".best-{epoch}.keras"
        _copy(out / last, out / best_model)
    state = {
        "epoch": epoch,
        "best": best,
        "last": last,
        "best_model": best_model,
        "train_seconds": [*previous.get("train_seconds", []), previous.get("seconds")],
        "train_images": [*previous.get("train_images", []), previous.get("images")],
    }
    with _atomic.atomic_write(out / STATE, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    # committed: only now is the previous state's checkpoint dispensable
    _tidy(out, {last, best_model})
    return state


def best_to_beat(out: Path, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of a resumed run's state that the next epochs continue from.

    Its best score and checkpoint stay the ones to beat; a finished run
    renamed its best checkpoint to ``model.keras``, which is copied back.
    """
    state = dict(state or {})
    best, best_model = state.get("best"), state.get("best_model")
    if best is None:  # no score was ever a number: nothing to beat yet
        best_model = None
    elif best_model and not (out / best_model).is_file():
        if (out / MODEL).is_file():
            _copy(out / MODEL, out / best_model)
        else:
            best_model = None
    state.update(best=best, best_model=best_model)
    return state


def keep_best(out: Path, model=None) -> None:
    """Make the best checkpoint the run's ``model.keras``.

    Without a best checkpoint (the monitored score was never a number): an
    existing ``model.keras`` stays (a resumed final phase), else ``model``
    is saved, else the last checkpoint is copied.  The state still names
    the checkpoint moved: a resumed run copies ``model.keras`` back.
    """
    out = Path(out)
    state = resume_state(out)
    best = state.get("best_model") if state else None
    if best and (out / best).is_file():
        os.replace(out / best, out / MODEL)
    elif (out / MODEL).is_file() and model is None:
        return
    elif model is not None:
        save_model(model, out / MODEL)
    elif state:
        _copy(out / state["last"], out / MODEL)


# -- history ------------------------------------------------------------------


def keep_history_rows(out: Path, n: int) -> None:
    """Drop rows past epoch ``n`` (a run stopped between the CSV row and its state)."""
    path = Path(out) / HISTORY
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return
    if len(lines) > n + 1:
        with _atomic.atomic_write(path, "w", encoding="utf-8") as handle:
            handle.writelines(lines[: n + 1])


def read_history(out: Path) -> dict[str, list[float]]:
    """``history.csv`` as ``{metric: [value per epoch]}`` (all epochs, resumed ones included).

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> _ = (out / HISTORY).write_text("epoch,loss\\n0,0.5\\n1,0.25\\n")
    >>> read_history(out)
    {'loss': [0.5, 0.25]}
    """
    with open(Path(out) / HISTORY, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(row[k]) for row in rows] for k in keys}


# -- the report and the model it describes ---------------------------------------


def model_digest(path: Path) -> str:
    """SHA-256 (hex) of a model file: what a report records of the model it describes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def report_matches_model(report: Mapping[str, Any], model_path: Path) -> bool:
    """Whether ``report`` (a ``report.json``) describes the model file ``model_path``.

    A report without a ``model`` record (written before reports recorded it)
    is taken as describing the model beside it.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / MODEL
    >>> _ = path.write_bytes(b"weights")
    >>> report_matches_model({"model": {"sha256": model_digest(path)}}, path)
    True
    >>> _ = path.write_bytes(b"other weights")
    >>> report_matches_model({"model": {"sha256": "0" * 64}}, path)
    False
    """
    recorded = report.get("model")
    if not isinstance(recorded, Mapping) or "sha256" not in recorded:
        return True
    try:
        return recorded["sha256"] == model_digest(Path(model_path))
    except OSError:
        return False


def _finished(out: Path, epochs: int) -> bool:
    """True when ``report.json`` describes the ``model.keras`` beside it, after ``epochs``."""
    try:
        report = json.loads((out / REPORT_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(report, dict) or not (out / MODEL).is_file():
        return False
    training = report.get("training")
    reported = training.get("epochs") if isinstance(training, dict) else None
    return reported == epochs and report_matches_model(report, out / MODEL)


# -- starting and resuming ---------------------------------------------------------


def is_run_config(settings: Any) -> bool:
    """Whether ``settings`` (a parsed ``config.json``) is the settings file of a run."""
    return isinstance(settings, dict) and _RUN_KEYS <= set(settings)


def _saved_config(out: Path) -> dict[str, Any] | None:
    """The run's ``config.json``; None when there is none; ValueError when it is not a run's."""
    try:
        settings = json.loads((out / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        settings = None
    if not is_run_config(settings):
        raise FileExistsError(
            f"`out`: {str(out / CONFIG)!r} is not the settings file of an rlemask-keras "
            "train run; `overwrite` and `resume` replace only a run's own files: move it "
            "or choose another `out` folder"
        )
    return settings


def _check_overwrite(out: Path) -> None:
    """Refuse to overwrite a folder whose run files are not a run's (no run's config.json)."""
    if _saved_config(out) is not None:
        return
    theirs = [n for n in (*OUTPUT_FILES, STATE) if (out / n).exists()]
    if theirs:
        raise FileExistsError(
            f"`out`: {str(out)!r} holds {', '.join(theirs)} but no settings file of an "
            "rlemask-keras train run; `overwrite` replaces only a run's own files: move them "
            "or choose another `out` folder"
        )


def resume_point(config) -> tuple[int, bool]:
    """Check ``config.out`` before any work: ``(epoch to start from, training left)``.

    A new or empty folder: ``(0, True)``.  An existing non-empty folder is
    refused unless ``config.overwrite`` (a run's folder only, see
    :func:`start`) or ``config.resume``, which needs the state of a run with
    the same settings: ``(its epoch, True)`` when ``config.epochs`` asks for
    more, ``(its epoch, False)`` when its epochs are done but its final phase
    is not (killed during the evaluation or the report).

    Raises
    ------
    FileExistsError, FileNotFoundError, ValueError
        The messages name the parameters (``out``, ``resume``, ``overwrite``,
        ``epochs``).
    """
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"`out`: {str(out)!r} exists and is not a folder")
    if not config.resume:
        if out.is_dir() and any(out.iterdir()):
            if not config.overwrite:
                raise FileExistsError(
                    f"`out`: {str(out)!r} already exists and is not empty; pass `overwrite` "
                    "to replace its results, `resume` to continue its training, or choose "
                    "another folder"
                )
            _check_overwrite(out)
        return 0, True
    state = resume_state(out)
    if state is None:
        raise FileNotFoundError(
            f"`resume`: {str(out)!r} holds no run to resume (no .state.json naming a saved model)"
        )
    differences = config.differences(_saved_config(out) or {})
    if differences:
        raise ValueError(f"`resume`: settings differ from the run: {'; '.join(differences)}")
    epoch = int(state["epoch"])
    if epoch < config.epochs:
        return epoch, True
    if epoch == config.epochs and not _finished(out, epoch):
        return epoch, False
    if epoch > config.epochs:
        raise ValueError(
            f"`resume`: the run in {str(out)!r} already has {epoch} epoch(s); ask for "
            f"epochs={epoch} to finish its report, or more to train on"
        )
    raise ValueError(
        f"`resume`: the run in {str(out)!r} already has {epoch} epoch(s) and its report; "
        "ask for more with `epochs`"
    )


def start(config) -> None:
    """Make ``config.out`` and record the settings (a new run; nothing when resuming).

    ``config.overwrite`` removes only what a run writes: its output files,
    state and checkpoints, its settings, and TensorBoard's ``logs/train``
    and ``logs/validation`` (``logs/`` itself only when that leaves it
    empty).  Anything else in the folder stays.
    """
    out = Path(config.out)
    if config.resume:
        return
    _saved_config(out)  # never remove a folder's config.json that is not a run's
    for path in (*(out / name for name in (*OUTPUT_FILES, *SOME_RUNS_FILES)),
                 *state_files(out)):  # fmt: skip
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    for name in TENSORBOARD_DIRS:
        shutil.rmtree(out / LOGS / name, ignore_errors=True)
    if (out / REPORT_ASSETS).is_dir() and not (out / REPORT_HTML).exists():
        pass  # a folder of that name beside no page of a run: not the run's
    else:
        shutil.rmtree(out / REPORT_ASSETS, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty, or absent: it stays as it is
        (out / LOGS).rmdir()
    out.mkdir(parents=True, exist_ok=True)
    with _atomic.atomic_write(out / CONFIG, "w", encoding="utf-8") as handle:
        json.dump(config.to_dict(), handle, indent=2)
