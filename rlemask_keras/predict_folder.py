"""A submission for a folder of images of any kind, in any layout of the field.

:func:`predict_folder` is ``rlemask-keras predict`` beyond SIIM's DICOMs: the
images under a folder (PNG, JPEG, TIFF, DICOM; ids as the competition names
them), a model of ``C`` sigmoid channels (and optionally a presence head), the
post-processing chosen per class in training, and a label file in the
competition's layout, format and empty marker (or ``layout`` / ``format``),
every mask at its image's own size (read from the file's header).

Per image and class: the models' maps (each model at its own input size, the
``tta`` passes averaged) are brought back to the image (:meth:`rlemask.SampleLayout.to_image`)
and averaged; :func:`rlemask.triplet_threshold` applies the class's
``(top, min_area, bottom)`` (``min_area`` counted on a ``reference x
reference`` map, scaled to the image); a class whose presence probability
(the head's, averaged the same way) is below its ``gate`` is emptied.
Instance competitions (Airbus, DSB, Sartorius) get one row per connected
region, which never overlap (:func:`rlemask.write_labels` ``objects=True``).

With ``tile`` (gigapixel images, HuBMAP), each image goes through
:func:`rlemask.predict_tiled_classes`: windows read lazily, probabilities
blended by :class:`rlemask.TileWriter` band by band, never a full-size mask;
a pixel is foreground where the blended probability is above the class's
``bottom`` (the triplet's ``top``/``min_area`` decide whether a whole image
has a region, which a streamed mask cannot ask); the presence gate applies to
the image's largest presence probability over its tiles.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import rlemask
from rlemask._formats import get_format
from rlemask._validation import check_choice
from rlemask.datasets import warn_duplicates
from rlemask.image_dataset import _find_images, _id_function
from rlemask.progress import progress as progress_bar
from rlemask.sample import sample_layout
from rlemask_keras import run_folder
from rlemask_keras.predict import (
    DEFAULT_TRIPLET,
    _check_batch_size,
    _check_tta,
    check_triplet,
    load_keras_model,
    mask_channels,
    model_outputs,
    model_report,
    model_shares,
)
from rlemask_keras.report import plural

__all__ = ["ClassRule", "OutputSpec", "output_spec", "class_rules", "predict_folder"]

#: how each competition names its images (default: the file stem)
COMPETITION_IDS = {
    "severstal-steel-defect-detection": "name",
    "airbus-ship-detection": "name",
    "uw-madison-gi-tract-image-segmentation": "uw-madison",
}
#: the side of the map a report's ``min_area`` is counted on unless it says otherwise
REFERENCE = 1024


@dataclasses.dataclass(frozen=True)
class ClassRule:
    """One class's post-processing: the triplet and the presence gate (None: no gate)."""

    top: float
    min_area: float
    bottom: float
    gate: float | None = None
    reference: int = REFERENCE


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """What is written: layout, RLE format, class names, one row per object, header names."""

    layout: str = "single"
    format: str = "kaggle"
    classes: tuple[str, ...] = ()
    objects: bool = False
    columns: Mapping[str, str] | None = None
    competition: str | None = None
    image_id: str = "stem"
    empty: str | None = None  # the competition's empty row (contrails: '-'); None: the format's


def output_spec(
    competition: str | None = None,
    *,
    layout: str | None = None,
    format: str | None = None,
    objects: bool | None = None,
) -> OutputSpec:
    """The layout of ``competition`` (:func:`rlemask.competition`), or of ``layout``/``format``.

    Examples
    --------
    >>> spec = output_spec("severstal-steel-defect-detection")
    >>> spec.layout, spec.format, spec.classes, spec.objects, spec.image_id
    ('wide', 'kaggle', ('1', '2', '3', '4'), False, 'name')
    >>> output_spec(layout="long").format
    'kaggle'
    """
    if competition is None:
        layout = layout or "single"
        check_choice(layout, "layout", ("single", "long", "wide"))
        format = format or "kaggle"
        try:  # an unknown format is said before any image is predicted
            get_format(format)
        except ValueError as err:
            raise ValueError(f"`format`: {err}") from None
        return OutputSpec(layout=layout, format=format, objects=bool(objects))
    comp = rlemask.competition(competition)
    for name, value, theirs in (("layout", layout, comp.layout), ("format", format, comp.format)):
        if value is not None and value != theirs:
            raise ValueError(
                f"`{name}`={value!r} is not {comp.name}'s ({theirs!r}); give `competition` or "
                f"`{name}`, not both"
            )
    roles = {"single": ("id", "rle"), "long": ("id", "class", "rle"), "wide": ("id", "rle")}
    columns = dict(zip(roles[comp.layout], comp.header, strict=False)) if comp.header else None
    return OutputSpec(
        layout=comp.layout, format=comp.format, classes=tuple(comp.classes),
        objects=bool(comp.objects), columns=columns, competition=comp.name,
        image_id=COMPETITION_IDS.get(comp.name, "stem"), empty=comp.empty or None,
    )


def _rule(entry: Any, where: str, reference: int) -> ClassRule:
    try:
        top, area, bottom = check_triplet(entry["top"], entry["min_area"], entry["bottom"])
        gate = entry.get("gate")
        gate = None if gate is None else float(gate)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"`models`: {where} is not a post-processing rule ({err})") from None
    if gate is not None and not 0 <= gate <= 1:
        raise ValueError(f"`models`: {where} has gate={gate}, not in 0..1")
    return ClassRule(top, area, bottom, gate, reference)


def class_rules(report: Mapping[str, Any] | None, classes: Sequence[str],
                where: str = "the report") -> list[ClassRule] | None:
    """One :class:`ClassRule` per class of ``classes`` from a run's ``report.json``.

    ``report["postprocess"]["per_class"]`` (``top``, ``min_area``, ``bottom``,
    ``gate``) when present, its classes matched by name; else the single-class
    keys of older reports (``thresholds``: ``top``, ``min_area_1024``,
    ``bottom``) for every class; None when the report has neither.

    Examples
    --------
    >>> report = {"postprocess": {"classes": ["1", "2"], "per_class": {
    ...     "1": {"top": 0.6, "min_area": 100, "bottom": 0.4, "gate": 0.5},
    ...     "2": {"top": 0.7, "min_area": 0, "bottom": 0.3, "gate": None}}}}
    >>> [(r.top, r.gate) for r in class_rules(report, ["1", "2"])]
    [(0.6, 0.5), (0.7, None)]
    >>> class_rules({"thresholds": {"top": 0.75, "min_area_1024": 2000, "bottom": 0.3}}, ["1"])
    [ClassRule(top=0.75, min_area=2000.0, bottom=0.3, gate=None, reference=1024)]
    """
    if not report:
        return None
    post = report.get("postprocess")
    if isinstance(post, Mapping) and isinstance(post.get("per_class"), Mapping):
        per_class = {str(k): v for k, v in post["per_class"].items()}
        reference = int(post.get("reference", REFERENCE))
        names = [str(c) for c in post.get("classes") or list(per_class)]  # [] : one class
        if len(names) != len(classes):
            raise ValueError(
                f"`models`: {where} chose post-processing for the classes {names}; the "
                f"prediction has {len(classes)} classes {list(classes)}"
            )
        ordered = names if set(names) != set(classes) else list(classes)
        return [_rule(per_class.get(n), f"{where}'s class {n!r}", reference) for n in ordered]
    thr = report.get("thresholds")
    if isinstance(thr, Mapping):
        entry = {"top": thr.get("top"), "min_area": thr.get("min_area_1024"),
                 "bottom": thr.get("bottom")}
        return [_rule(entry, f"{where}'s thresholds", REFERENCE)] * len(classes)
    return None


def _rules_of(model_paths: Sequence[Path], classes: Sequence[str],
              triplet: tuple[float, float, float] | None) -> list[ClassRule]:
    """The rules the models' reports agree on; ``triplet`` replaces their triplets."""
    found = []
    for path in model_paths:
        rules = class_rules(model_report(path), classes, f"{str(path)!r}'s report")
        if rules is not None and rules not in found:
            found.append(rules)
    if len(found) > 1 and triplet is None:
        raise ValueError(
            "the models' training reports chose different post-processing; pass `triplet` "
            "(TOP, AREA, BOTTOM)"
        )
    rules = found[0] if found else [ClassRule(*DEFAULT_TRIPLET)] * len(classes)
    if triplet is not None:
        top, area, bottom = check_triplet(*triplet)
        rules = [ClassRule(top, area, bottom, r.gate if len(found) == 1 else None)
                 for r in rules]
    return rules


@dataclasses.dataclass
class _Model:
    model: Any
    size: tuple[int, int] | None  # None: each image at its own size
    channels: int
    policy: str = "resize"  # or "pad": to a multiple of ``size``, as the run trained


def _input_settings(model, path: Path) -> tuple[tuple[int, int] | None, str]:
    """``(size, policy)`` the model's samples are made with, as in training.

    A fixed input: resized to it.  A model of any size: its run's
    ``config.json`` (``img_size`` and ``policy``; a run trained on ``tile``
    windows predicted whole images, at their own size); without one, each
    image at its own size.
    """
    shape = model.input_shape[0] if isinstance(model.input_shape, list) else model.input_shape
    if shape[1] is not None and shape[2] is not None:
        return (int(shape[1]), int(shape[2])), "resize"
    try:
        config = json.loads((path.parent / run_folder.CONFIG).read_text(encoding="utf-8"))
        size = config["img_size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, "resize"
    if config.get("tile") is not None:
        return None, "resize"
    policy = "pad" if config.get("policy") == "pad" else "resize"
    if isinstance(size, int):
        return (size, size), policy
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return (int(size[0]), int(size[1])), policy
    return None, "resize"


def _load(model_paths: Sequence[Path], spec: OutputSpec) -> tuple[list[_Model], tuple[str, ...]]:
    """The models, checked to agree on their classes and the layout's; the class names."""
    loaded, counts = [], set()
    for path in model_paths:
        model = load_keras_model(path, single_class=False)
        counts.add(mask_channels(model, str(path)))
        shape = model.input_shape[0] if isinstance(model.input_shape, list) else model.input_shape
        size, policy = _input_settings(model, path)
        loaded.append(_Model(model, size, int(shape[-1]), policy))
    if len(counts) > 1:
        raise ValueError(f"`models` predict different numbers of classes {sorted(counts)}")
    n = counts.pop()
    classes = spec.classes or tuple(str(c + 1) for c in range(n))
    if len(classes) != n:
        where = spec.competition or f"layout={spec.layout!r}"
        raise ValueError(
            f"`models` predict {_classes(n)}; {where} has "
            f"{len(classes)} {list(classes)}"
        )
    if n > 1 and spec.layout == "single":
        raise ValueError(
            f"{spec.competition} is single-class; the models predict {n} classes"
            if spec.competition else
            f"`layout`='single' holds one class; the models predict {n}: use 'long' or 'wide'"
        )
    return loaded, classes


def images_of(data: str | os.PathLike, *, pattern: str | None = None,
              image_id: str = "stem") -> dict[str, Path]:
    """Image id -> file under ``data`` (duplicates: the shallowest, with a warning), by id.

    ``image_id`` is a rule of :func:`rlemask.load_dataset` (``"stem"``,
    ``"name"``, ``"uw-madison"``).
    """
    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"`data`: not a folder: {str(root)!r}")
    name_of = _id_function(image_id)
    found: dict[str, list[Path]] = {}
    for path in _find_images(root, pattern, ()):
        found.setdefault(name_of(path), []).append(path)
    if not found:
        raise ValueError(
            f"`data`: no image files under {str(root)!r}"
            + (f" matching pattern={pattern!r}" if pattern else "")
        )
    warn_duplicates(root, {k: v[1:] for k, v in found.items() if len(v) > 1}, stacklevel=3)
    return {key: found[key][0] for key in sorted(found)}


def _model_maps(m: _Model, paths: list[Path], shapes: list[tuple[int, int]],
                tta: str | None) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """One model's ``(map (H, W, C) at the image's size, presence or None)`` per image.

    Samples of one size go to the model in one batch; a batch of several
    sizes (a model of any size on images of several sizes) is predicted
    one image at a time.
    """
    samples = []
    for path, shape in zip(paths, shapes, strict=True):
        image = rlemask.load_sample(path, None, img_size=m.size or shape, policy=m.policy)[0]
        samples.append(np.repeat(image[..., None], m.channels, axis=-1).astype(np.float32))
    if len({x.shape for x in samples}) == 1:
        groups = [list(range(len(samples)))]
    else:
        groups = [[i] for i in range(len(samples))]
    out: list[Any] = [None] * len(samples)
    for group in groups:
        masks, head = model_outputs(m.model, np.stack([samples[i] for i in group]), tta=tta)
        for k, i in enumerate(group):
            layout = sample_layout(shapes[i], m.size or shapes[i], policy=m.policy)
            prob = np.asarray(layout.to_image(masks[k]), np.float32).reshape(*shapes[i], -1)
            out[i] = (prob, None if head is None else head[k])
    return out


def _probabilities(models: list[_Model], weights: list[float], paths: list[Path],
                   tta: str | None, batch_size: int) -> Iterator[tuple]:
    """``(probabilities (H, W, C), presence (C,) or None)`` per image, the models averaged.

    The presence head's probability is averaged over the models that have one.
    """
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        shapes = [rlemask.image_shape(p) for p in chunk]
        per_model = [_model_maps(m, chunk, shapes, tta) for m in models]
        for i in range(len(chunk)):
            total, presence, gated = 0.0, 0.0, 0.0
            for maps, weight in zip(per_model, weights, strict=True):
                prob, head = maps[i]
                total = total + weight * prob
                if head is not None:
                    presence, gated = presence + weight * head, gated + weight
            yield (np.clip(total, 0.0, 1.0),
                   None if not gated else np.asarray(presence) / gated)  # fmt: skip


def _post(prob: np.ndarray, presence: np.ndarray | None, rules: list[ClassRule],
          order: str) -> list[rlemask.Runs]:
    """One :class:`rlemask.Runs` per class: the triplet, and the gate on the presence head."""
    out = []
    for c, rule in enumerate(rules):
        if rule.gate is not None and presence is not None and presence[c] < rule.gate:
            out.append(rlemask.Runs.from_mask(np.zeros(prob.shape[:2], np.uint8), order=order))
            continue
        area = rlemask.scale_min_area(rule.min_area, prob.shape[:2], reference=rule.reference)
        mask = rlemask.triplet_threshold(prob[..., c], rule.top, area, rule.bottom)
        out.append(rlemask.Runs.from_mask(mask, order=order))
    return out


def _tiled_rows(models: list[_Model], weights: list[float], path: Path, tta: str | None,
                rules: list[ClassRule], spec: OutputSpec, tiles: dict) -> list[rlemask.Runs]:
    """One class's runs per rule for a large image, predicted tile by tile.

    The presence head's probability of the image is its largest over the
    tiles predicted (a class is present if it is present anywhere), averaged
    over the models that have the head; a class below its gate is emptied.
    """
    sizes = {None if m.policy == "pad" else m.size for m in models}  # pad: tiles as they are
    if len(sizes) > 1:
        raise ValueError(f"`tile`: the models need one input size; received {sorted(sizes)}")
    channels = {m.channels for m in models}
    if len(channels) > 1:
        raise ValueError("`tile`: the models need the same input channels (1 or 3)")
    presence: dict[int, np.ndarray] = {}  # model index -> the largest per class so far

    def predict(batch: np.ndarray) -> np.ndarray:
        total = 0.0
        for i, (m, weight) in enumerate(zip(models, weights, strict=True)):
            masks, head = model_outputs(m.model, batch, tta=tta)
            total = total + weight * masks
            if head is not None:
                presence[i] = np.maximum(presence.get(i, 0.0), head.max(axis=0))
        return np.clip(total, 0.0, 1.0)

    rows = rlemask.predict_tiled_classes(
        path, predict, len(rules), format=spec.format, threshold=[r.bottom for r in rules],
        channels=channels.pop(), size=sizes.pop(), **tiles,
    )
    shape = rlemask.image_shape(path)
    runs = [rlemask.Runs.from_text(row, shape, format=spec.format) for row in rows]
    if presence:
        gated = sum(weights[i] for i in presence)
        image = sum(weights[i] * p for i, p in presence.items()) / gated
        empty = rlemask.Runs.from_mask(np.zeros((1, 1), np.uint8)).resize(shape)
        runs = [empty if r.gate is not None and image[c] < r.gate else run
                for c, (r, run) in enumerate(zip(rules, runs, strict=True))]
    return runs


def _classes(n: int) -> str:
    return f"{n} class" if n == 1 else f"{n} classes"


class _Masks(Mapping):
    """id -> what ``write_labels`` takes, from the runs kept (dense one image at a time)."""

    def __init__(self, runs: dict[str, list[rlemask.Runs]], multi: bool):
        self.runs, self.multi = runs, multi

    def __getitem__(self, key: str) -> Any:
        runs = self.runs[key]
        if not self.multi:
            return runs[0]
        return np.stack([r.to_mask() for r in runs])

    def __iter__(self) -> Iterator[str]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)


def _tile_options(tile: int | None, overlap: int, batch_size: int) -> dict | None:
    if tile is None:
        return None
    return {"tile": tile, "overlap": overlap, "batch_size": batch_size}


def predict_folder(
    models: str | os.PathLike | Sequence[str | os.PathLike],
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    competition: str | None = None,
    layout: str | None = None,
    format: str | None = None,
    pattern: str | None = None,
    image_id: str | None = None,
    objects: bool = False,
    tta: str | None = None,
    weights: Sequence[float] | None = None,
    triplet: tuple[float, float, float] | None = None,
    batch_size: int = 16,
    tile: int | None = None,
    overlap: int = 64,
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Write the submission of every image under ``data`` in a competition's layout.

    Parameters
    ----------
    models : path or sequence of paths
        ``.keras`` files of ``C`` sigmoid channels (a presence head allowed);
        their probabilities are averaged per image (``weights``).
    data : path
        The folder of images (any nesting; ``pattern`` a glob relative to it).
    out : path
        The label file, written atomically.
    competition : str, optional
        A name of :func:`rlemask.competitions`: its layout, format, classes,
        header, one row per object or not, and how it names images.
    layout, format : str, optional
        Without ``competition``: ``"single"``, ``"long"`` or ``"wide"``, and an
        RLE format (default ``"single"``, ``"kaggle"``).
    image_id : {"stem", "name", "uw-madison"}, optional
        How a file is named (default: the competition's, else ``"stem"``).
    objects : bool
        Without ``competition``: one row per connected region (8-connected),
        as the instance competitions (whose ``competition`` implies it).
    tta : {None, "none", "hflip", "flips", "d4"}
        Symmetries averaged (:func:`rlemask_keras.predict.model_outputs`).
    triplet : (top, min_area, bottom), optional
        Replaces every class's triplet of the training report.
    tile, overlap : int, optional
        Predict each image in tiles (module docstring).

    Returns
    -------
    dict
        ``{"n_images", "n_positive" (images with any region), "n_rows", "seconds"}``.

    Examples
    --------
    Two synthetic Severstal images, a 4-class model of any input size:

    >>> import pathlib, tempfile
    >>> import rlemask_keras
    >>> from rlemask.synthetic_kinds import make_kind
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> data = make_kind(root / "sev", "severstal", n_images=2, size=(32, 64))
    >>> rlemask_keras.unet((None, None, 1), filters=2, depth=1, classes=4).save(root / "m.keras")
    >>> result = predict_folder(root / "m.keras", data, root / "sub.csv", progress=False,
    ...                         competition="severstal-steel-defect-detection", log=print)
    ... # doctest: +ELLIPSIS
    wrote .../sub.csv: 2 images, ... 8 rows (severstal-steel-defect-detection; 1 model, ...)
    >>> (root / "sub.csv").read_text().splitlines()[0]
    'ImageId_ClassId,EncodedPixels'
    """
    _check_batch_size(batch_size)
    tta = _check_tta(tta)
    spec = output_spec(competition, layout=layout, format=format, objects=objects)
    model_paths = [Path(models)] if isinstance(models, (str, os.PathLike)) else [
        Path(m) for m in models]
    shares = model_shares(weights, len(model_paths))
    paths = images_of(data, pattern=pattern, image_id=image_id or spec.image_id)
    loaded, classes = _load(model_paths, spec)
    rules = _rules_of(model_paths, classes, triplet)
    tiles = _tile_options(tile, overlap, batch_size)
    t0 = time.perf_counter()
    runs: dict[str, list[rlemask.Runs]] = {}
    with progress_bar(total=len(paths), unit="img", desc="predict",
                                   disable=not progress) as bar:
        if tiles is None:
            found = _probabilities(loaded, shares, list(paths.values()), tta, batch_size)
            for key, (prob, presence) in zip(paths, found, strict=True):
                runs[key] = _post(prob, presence, rules, "F")
                bar.update(1)
        else:
            for key, path in paths.items():
                runs[key] = _tiled_rows(loaded, shares, path, tta, rules, spec, tiles)
                bar.update(1)
    multi = spec.layout != "single"  # a class column (or suffix) even for one class
    rlemask.write_labels(out, _Masks(runs, multi), layout=spec.layout, format=spec.format,
                         columns=spec.columns, objects=spec.objects,
                         classes=list(classes) if multi else None, empty=spec.empty)
    seconds = time.perf_counter() - t0
    n_positive = sum(any(r.area for r in rs) for rs in runs.values())
    n_rows = sum(1 for _ in open(out, encoding="utf-8")) - 1
    log(
        f"wrote {out}: {plural(len(runs), 'image')}, {n_positive} with a region, "
        f"{plural(n_rows, 'row')} ({spec.competition or spec.layout + ' ' + spec.format}; "
        f"{plural(len(loaded), 'model')}, {_classes(len(classes))}; "
        f"{len(runs) / max(seconds, 1e-9):.1f} images/s)"
    )
    return {"n_images": len(runs), "n_positive": n_positive, "n_rows": n_rows,
            "seconds": seconds}
