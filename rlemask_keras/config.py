"""One training run's settings: :class:`TrainConfig`, the ``rlemask-keras train`` options.

Every field carries its command-line flag and help text in its metadata, so
a new option is one new field: :mod:`rlemask_keras.cli` builds the parser
from :func:`dataclasses.fields`.  Settings are checked by
:meth:`TrainConfig.check`, whose messages name the fields (``img_size``);
the command translates them into the flags a user typed (``--img-size``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import Any

from rlemask_keras.distribute import STRATEGIES

#: what ``on_error`` accepts: stop at an unreadable image, or leave it out (listed)
ON_ERROR = ("raise", "skip")
#: the optimizers of ``optimizer``, the learning-rate schedules of ``schedule``
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("none", "cosine", "step", "plateau")
#: what the checkpoint keeps the best epoch of (``monitor``)
MONITORS = ("auto", "score", "dice_positive")
#: how a file names its image (``image_id``): :func:`rlemask.load_dataset`'s rules
IMAGE_ID_RULES = ("stem", "name", "uw-madison")

__all__ = ["TrainConfig", "ConfigError", "option_flag"]


class ConfigError(ValueError):
    """A setting of :class:`TrainConfig` is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# -- parsers of option text (argparse ``type=``) ------------------------------


def fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), received {text!r}")
    return value


def fraction_schedule(text: str) -> tuple[float, float | None] | None:
    """``0.8,natural`` / ``0.8,0.4`` / ``0.5`` / ``none``: the positive-fraction schedule."""
    if text.strip().lower() == "none":
        return None
    problem = f"expected START[,END] with numbers in 0..1 or 'natural', received {text!r}"
    parts = [p.strip().lower() for p in text.split(",")]
    try:
        values = [None if p == "natural" else float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    if len(values) not in (1, 2) or any(v is not None and not 0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(problem)
    if values[0] is None:
        raise argparse.ArgumentTypeError(f"START must be a number, received {text!r}")
    return (values[0], values[-1])


def image_size(text: str) -> int | tuple[int, int]:
    """``128`` (a square side) or ``128x800`` (height x width)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected N or HxW (positive integers), received {text!r}"
        )
    return values[0] if len(values) == 1 else (values[0], values[1])


def _option(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field with its command-line option: ``help`` and argparse keywords.

    ``flag=`` overrides the flag (default: ``--field-name``), ``cli=False``
    keeps a field off the command line, ``resumable=True`` lets ``--resume``
    continue a run with a different value (e.g. more ``--epochs``).
    """
    return dataclasses.field(default=default, metadata={"help": help, **cli})


def option_flag(name: str) -> str:
    """The command-line flag of the :class:`TrainConfig` field ``name``."""
    meta = TrainConfig.__dataclass_fields__[name].metadata
    return meta.get("flag", "--" + name.replace("_", "-"))


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run: the ``rlemask-keras train`` options.

    Each field is the option of the same name (``img_size`` is
    ``--img-size``); ``rlemask-keras train --help`` lists them with their
    help text.  ``data=None`` trains on the synthetic set of ``n_images``
    images of ``synthetic_size`` pixels, made (or reused) under
    ``synthetic_root``.

    The defaults are the demo's (``make demo``): 300 synthetic 1024 px
    images, a SELU U-Net of 8 filters and depth 4 at 128 px, batch 8, 40
    epochs, Adam 1e-3, sampler 0.8 -> natural share; it fits in ten minutes
    on 2 CPU cores.  For SIIM itself use more capacity and resolution, e.g.
    ``--img-size 256 --filters 16 --batch-size 16`` on a GPU.

    Examples
    --------
    >>> from rlemask_keras.config import TrainConfig
    >>> config = TrainConfig(epochs=1, img_size=64, depth=2)
    >>> config.check()
    >>> try:
    ...     TrainConfig(img_size=100, depth=3).check()
    ... except ValueError as err:
    ...     print(err)
    `img_size` must be divisible by 2**depth = 8 (depth=3); received img_size=100
    """

    # data
    data: Path | None = _option(
        None,
        "data set folder: DICOMs + train-rle.csv (default: a synthetic set)",
        type=Path,
        metavar="DIR",
    )
    labels: Path | None = _option(
        None,
        "labels file of --data in any layout of the field (rlemask.read_labels): the images "
        "are found with rlemask.load_dataset, C classes give C sigmoid channels (default: "
        "the SIIM folder's train-rle.csv)",
        type=Path,
        metavar="CSV",
    )
    competition: str | None = _option(
        None,
        "score validation as this competition (rlemask competitions): its metric, layout "
        "and empty marker (default: Dice per image and class)",
        metavar="NAME",
    )
    pattern: str | None = _option(
        None, "glob of the image files under --data (with --labels)", metavar="GLOB"
    )
    image_id: str | None = _option(
        None, "how a file names its image (with --labels; default: chosen from the labels)",
        choices=IMAGE_ID_RULES,
    )
    policy: str = _option(
        "resize", "resize images to --img-size, or pad them to a multiple of it (with --labels)",
        choices=("resize", "pad"),
    )
    tile: int | None = _option(
        None,
        "train on N x N windows of the images (rlemask.TileDataset, positive-aware); "
        "validation predicts whole images window by window (with --labels)",
        type=int,
        metavar="N",
    )
    n_images: int = _option(300, "images of the synthetic set (without --data)", type=int)
    synthetic_size: int = _option(1024, "side of the synthetic images in pixels", type=int)
    synthetic_root: Path = _option(
        Path("runs"), "folder where the synthetic set is made or reused", type=Path, metavar="DIR"
    )
    val_fraction: float = _option(
        0.2, "share of the images kept for validation (without --folds)", type=fraction
    )
    folds: int = _option(0, "split into K stratified folds (0: use --val-fraction)", type=int,
                         metavar="K")  # fmt: skip
    fold: int = _option(0, "the fold (0..K-1) held out for validation with --folds", type=int,
                        metavar="k")  # fmt: skip
    seed: int = _option(0, "seed of the split, the sampler and the initial weights", type=int)
    cache_dir: Path | None = _option(
        None,
        "sample cache folder: reused when built from the same inputs, refused when not "
        "(default: beside the synthetic set, or OUT/cache, rebuilt as needed)",
        type=Path,
        flag="--cache",
        metavar="DIR",
    )
    on_error: str = _option(
        "raise",
        "an image that cannot be read: raise (stop) or skip (leave it out; the report and "
        "the summary list it)",
        choices=ON_ERROR,
    )
    # model
    model: str = _option("unet", "architecture", choices=("unet", "unet++"))
    deep_supervision: bool = _option(
        False, "U-Net++: train every decoder output (with --model unet++)"
    )
    encoder: str | None = _option(
        None,
        "keras.applications backbone as the encoder, e.g. resnet50, efficientnetv2b0 "
        "(default: none, the reference U-Net)",
        metavar="NAME",
    )
    encoder_weights: str | None = _option(
        None, "encoder weights: imagenet or a weights file (default: random)", metavar="W"
    )
    freeze_encoder_epochs: int = _option(
        0, "epochs with the encoder frozen (with --encoder)", type=int, metavar="N"
    )
    activation: str = _option("selu", "selu, relu, elu or any Keras activation name")
    filters: int = _option(8, "filters of the first level (doubled at each level)", type=int)
    depth: int | None = _option(
        None,
        "down-sampling levels (default: 4, or all 5 stages of an --encoder)",
        type=int,
    )
    batch_norm: bool = _option(False, "batch normalisation after each convolution")
    img_size: int | tuple[int, int] = _option(
        128,
        "model input size: S (S x S pixels), or HxW for a data set given its labels; "
        "divisible by 2**depth",
        type=image_size,
        metavar="S|HxW",
    )
    classifier: bool = _option(
        False,
        "add the presence head (one sigmoid per class: 'this class is present'); its "
        "probability gates each class, the gate chosen on validation",
    )
    presence_weight: float = _option(
        0.5, "weight of the presence head's loss (with --classifier)", type=float
    )
    # training
    loss: str = _option(
        "bce_dice",
        "the training loss: one of {names} (rlemask_keras.losses), or several joined by '+' "
        "with optional weights, e.g. 2*focal+dice",
        metavar="TERMS",
    )
    epochs: int = _option(40, "epochs to train", type=int, resumable=True)
    batch_size: int = _option(8, "images per batch", type=int)
    learning_rate: float = _option(1e-3, "the optimizer's (initial) learning rate", type=float)
    optimizer: str = _option("adam", "the optimizer (sgd: momentum 0.9)", choices=OPTIMIZERS)
    schedule: str = _option(
        "none",
        "learning-rate schedule: cosine (to 0 at the last epoch), step (halved every third of "
        "the epochs), plateau (halved after 2 epochs without a better monitored score)",
        choices=SCHEDULES,
    )
    early_stopping: int = _option(
        0, "stop after N epochs without a better monitored score (0: never)", type=int,
        metavar="N",
    )
    monitor: str = _option(
        "auto",
        "the checkpoint keeps the epoch of the best: score (the competition's metric, or Dice "
        "per image and class, on the validation batches at the model's size, every map "
        "binarised at 0.5, empty truth and prediction scoring 1) or dice_positive (Dice at "
        "0.5 on the validation images with a region); auto: score with --labels, "
        "dice_positive on a SIIM folder (the demo's)",
        choices=MONITORS,
    )
    positive_fraction: tuple[float, float | None] | float | None = _option(
        (0.8, None),
        "share of positive images per epoch, going from START to END ('natural': the "
        "data's share); 'none': every image once",
        type=fraction_schedule,
        metavar="START[,END]",
        default_text="0.8,natural",
    )
    augment: bool = _option(
        True, "train without augmentation (flips, shift/scale, contrast)", flag="--no-augment"
    )
    strategy: str = _option(
        "default",
        "mirrored: all local GPUs (or the CPU); multiworker: several processes or hosts "
        "configured by TF_CONFIG (TensorFlow)",
        choices=STRATEGIES,
    )
    mixed_precision: bool = _option(False, "float16 on GPU, bfloat16 on CPU (outputs stay float32)")
    workers: int = _option(1, "PyDataset worker threads", type=int, resumable=True)
    # output
    out: Path = _option(
        Path("runs/train"), "output folder", type=Path, metavar="DIR", resumable=True
    )
    overwrite: bool = _option(
        False, "replace the results in an existing --out folder", resumable=True
    )
    resume: bool = _option(
        False, "continue the run in --out from its last completed epoch", resumable=True
    )
    tensorboard: bool = _option(False, "write TensorBoard logs into OUT/logs", resumable=True)
    target: float | None = _option(
        None,
        "report whether the Dice on positive images reaches this value (make demo: 0.6)",
        type=float,
        resumable=True,
    )
    progress: bool = _option(True, "no progress bars", flag="--quiet", resumable=True)
    cache_workers: int = _option(2, "processes building the cache", cli=False, resumable=True)
    n_overlays: int = _option(8, "validation images in overlays.png", cli=False, resumable=True)

    def check(self) -> None:
        """Raise :class:`ConfigError` (a ``ValueError`` naming the flag) for bad settings."""
        from rlemask_keras.encoders import ENCODER_DEPTH
        from rlemask_keras.models import MAX_DEPTH  # (these import Keras)

        def fail(name: str, problem: str) -> None:
            raise ConfigError(name, f"`{name}` {problem}; received {name}={getattr(self, name)}")

        for name in ("epochs", "batch_size", "filters", "depth", "n_images",
                     "synthetic_size", "workers", "cache_workers"):  # fmt: skip
            value = getattr(self, name)
            if name == "depth" and value is None:  # the builder's own default
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                fail(name, "must be a positive integer")
        if self.encoder is None and self.depth is not None and self.depth > MAX_DEPTH:
            fail("depth", f"must be at most {MAX_DEPTH}")
        if self.encoder is not None and self.depth is not None and self.depth > ENCODER_DEPTH:
            fail("depth", f"must be at most {ENCODER_DEPTH} with `encoder`")
        self._check_inputs(fail)
        if self.model not in ("unet", "unet++"):
            fail("model", "must be 'unet' or 'unet++'")
        if self.encoder is not None:
            from rlemask_keras.encoders import encoders

            if self.encoder not in encoders():
                fail("encoder", f"must be one of {', '.join(encoders())}")
        elif self.encoder_weights is not None:
            fail("encoder_weights", "needs `encoder`")
        if not isinstance(self.freeze_encoder_epochs, int) or self.freeze_encoder_epochs < 0:
            fail("freeze_encoder_epochs", "must be an integer >= 0")
        if self.freeze_encoder_epochs and self.encoder is None:
            fail("freeze_encoder_epochs", "needs `encoder`")
        if self.deep_supervision and self.model != "unet++":
            fail("deep_supervision", "needs `model` unet++")
        if self.strategy not in STRATEGIES:
            fail("strategy", f"must be one of {', '.join(STRATEGIES)}")
        if not 0 < self.val_fraction < 1:
            fail("val_fraction", "must be in (0, 1)")
        if not self.learning_rate > 0:
            fail("learning_rate", "must be positive")
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 0:
            fail("folds", "must be 0 (no folds) or an integer >= 2")
        if self.folds == 1:
            fail("folds", "must be 0 (no folds) or an integer >= 2")
        if self.folds and not 0 <= self.fold < self.folds:
            fail("fold", f"must be in 0..{self.folds - 1} (folds={self.folds})")
        if self.resume and self.overwrite:
            fail("resume", "cannot be combined with `overwrite`")
        if self.on_error not in ON_ERROR:
            fail("on_error", f"must be one of {', '.join(ON_ERROR)}")
        if self.tensorboard and importlib.util.find_spec("tensorboard") is None:
            fail("tensorboard", "needs the tensorboard package: pip install tensorboard")
        from rlemask_keras.losses import get as get_loss  # imports Keras

        try:
            get_loss(self.loss)
        except (ValueError, TypeError) as err:
            reason = str(err).split(" Received:")[0]
            raise ConfigError("loss", f"`loss` {self.loss}: {reason}") from None

    def _check_inputs(self, fail) -> None:
        """The input size and the options of a data set of any layout (``labels``)."""
        sides = self.img_size if isinstance(self.img_size, (tuple, list)) else (self.img_size,)
        if len(sides) not in (1, 2) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sides
        ):
            fail("img_size", "must be a positive integer or (height, width)")
        depth = self.model_depth
        if any(v % 2**depth for v in sides):
            fail("img_size", f"must be divisible by 2**depth = {2**depth} (depth={depth})")
        if len(sides) == 2 and self.labels is None:
            fail("img_size", "must be one side (a square) without `labels`")
        for name in ("pattern", "image_id", "tile"):
            if getattr(self, name) is not None and self.labels is None:
                fail(name, "needs `labels`")
        if self.policy != "resize" and self.labels is None:
            fail("policy", "needs `labels`")
        if self.labels is not None and self.data is None:
            fail("labels", "needs `data` (the folder of the images)")
        if self.image_id is not None and self.image_id not in IMAGE_ID_RULES:
            fail("image_id", f"must be one of {', '.join(IMAGE_ID_RULES)}")
        if self.policy not in ("resize", "pad"):
            fail("policy", "must be 'resize' or 'pad'")
        if self.tile is not None and (isinstance(self.tile, bool) or not isinstance(
                self.tile, int) or self.tile < 1 or self.tile % 2**depth):  # fmt: skip
            fail("tile", f"must be a positive integer divisible by 2**depth = {2**depth}")
        if self.competition is not None:
            from rlemask.competition_table import competitions

            if self.competition not in competitions():
                fail("competition", f"must be one of {', '.join(competitions())}")
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                              ("monitor", MONITORS)):  # fmt: skip
            if getattr(self, name) not in allowed:
                fail(name, f"must be one of {', '.join(allowed)}")
        if (isinstance(self.early_stopping, bool) or not isinstance(self.early_stopping, int)
                or self.early_stopping < 0):  # fmt: skip
            fail("early_stopping", "must be an integer >= 0")
        if not self.presence_weight >= 0:
            fail("presence_weight", "must be >= 0")

    @property
    def input_size(self) -> tuple[int, int]:
        """``(height, width)`` of the model's input (``img_size``, a square side or a pair)."""
        if isinstance(self.img_size, (tuple, list)):
            return int(self.img_size[0]), int(self.img_size[1])
        return int(self.img_size), int(self.img_size)

    @property
    def monitor_key(self) -> str:
        """The log key the checkpoint maximises: ``val_score`` or ``val_dice_positive``."""
        monitor = self.monitor
        if monitor == "auto":
            monitor = "score" if self.labels is not None else "dice_positive"
        return "val_score" if monitor == "score" else "val_dice_positive"

    @property
    def model_depth(self) -> int:
        """The depth the builders get: ``depth``, or their default when it is None.

        The reference models default to 4 levels; with an ``encoder`` the
        default is all of the encoder's stages (a depth of 4 would leave its
        last stage unused).

        Examples
        --------
        >>> TrainConfig().model_depth, TrainConfig(encoder="resnet50").model_depth
        (4, 5)
        >>> TrainConfig(depth=2, encoder="resnet50").model_depth
        2
        """
        if self.depth is not None:
            return self.depth
        if self.encoder is not None:
            from rlemask_keras.encoders import ENCODER_DEPTH

            return ENCODER_DEPTH
        from rlemask_keras.models import DEFAULT_DEPTH

        return DEFAULT_DEPTH

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (paths resolved, as text; ``depth`` as built, never None).

        Paths are stored resolved, so a run's folder means the same files
        from any working directory (``oof`` run elsewhere, ``resume`` with the
        folder spelled another way).
        """
        settings = {
            k: (_resolved(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(self).items()
        }
        settings["depth"] = self.model_depth  # a run saved before None meant "default" reads 4
        return settings

    def differences(self, saved: dict[str, Any]) -> list[str]:
        """The settings that differ from ``saved`` (a :meth:`to_dict`) and that ``resume``
        cannot change, as ``"`name` value (the run has value)"``.

        Paths compare resolved (a run saved before paths were stored resolved
        is read from the current folder).  A setting the saved run lacks
        (added since) is taken at its default.

        Examples
        --------
        >>> saved = TrainConfig(data=Path("data")).to_dict()
        >>> TrainConfig(data=Path("data").resolve()).differences(saved)
        []
        >>> TrainConfig(data=Path("data"), filters=4).differences(saved)
        ['`filters` 4 (the run has 8)']
        """
        mine = json.loads(json.dumps(self.to_dict()))  # tuples -> lists, as the saved JSON
        found = []
        for f in dataclasses.fields(self):
            if f.metadata.get("resumable"):
                continue
            theirs = _as_json(saved[f.name] if f.name in saved else f.default)
            if f.type in ("Path", "Path | None") and theirs is not None:
                theirs = _resolved(Path(theirs))
            if theirs != mine[f.name]:
                found.append(f"`{f.name}` {mine[f.name]} (the run has {theirs})")
        return found


def _as_json(value: Any) -> Any:
    """A setting as :meth:`TrainConfig.to_dict` and the saved JSON hold it."""
    return json.loads(json.dumps(_resolved(value) if isinstance(value, Path) else value))


def _resolved(path: Path) -> str:
    """``path`` made absolute, symbolic links resolved, as text."""
    return str(Path(path).resolve())
