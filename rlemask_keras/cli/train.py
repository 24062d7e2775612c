"""``rlemask-keras train``: options made from :class:`~rlemask_keras.config.TrainConfig`."""

from __future__ import annotations

import argparse
import dataclasses

from rlemask_keras.cli import add_runtime_options, runtime
from rlemask_keras.config import TrainConfig, option_flag
from rlemask_keras.distribute import worker_from_tf_config
from rlemask_keras.report import summary
from rlemask_keras.training import train


class _LossHelp(str):
    """``--loss``'s help, its names filled in from the loss table when the help is shown.

    The table (:func:`rlemask_keras.losses.names`) lives with the losses, which
    import Keras; building the parser must not (TensorFlow's logging is set up
    after it), so argparse's ``help % params`` is where the names are read.
    """

    def __mod__(self, params):
        from rlemask_keras.losses import names  # imports Keras: only for --help

        return str(self).replace("{names}", ", ".join(names())) % params


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train, evaluate on validation, write model + report + figures",
        description=(
            "Train a U-Net on a SIIM-style folder (DICOMs + train-rle.csv), on any data set "
            "of the field with --data DIR --labels CSV (Severstal, Airbus, UW-Madison, "
            "HuBMAP ...; C classes, scored as --competition NAME), or on a synthetic set when "
            "--data is not given; evaluate the best model on the validation split at the "
            "original resolution; write model.keras, history.csv, report.md, report.json, "
            "curves.png and overlays.png (with --labels: validation-predictions.csv in the "
            "competition's layout and report.html instead of overlays.png) into --out."
        ),
    )
    for field in dataclasses.fields(TrainConfig):
        meta = field.metadata
        if not meta.get("cli", True):
            continue
        flag, help_text = option_flag(field.name), meta["help"]
        if isinstance(field.default, bool):
            action = "store_false" if field.default else "store_true"
            parser.add_argument(flag, dest=field.name, action=action, help=help_text)
            continue
        keywords = {k: meta[k] for k in ("type", "choices", "metavar") if k in meta}
        if field.default is not None:
            shown = meta.get("default_text", field.default)
            help_text += f" (default: {shown})"
        help_text = help_text.replace("%", "%%")
        parser.add_argument(
            flag,
            dest=field.name,
            default=field.default,
            help=_LossHelp(help_text) if "{names}" in help_text else help_text,
            **keywords,
        )
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``train`` arguments."""
    return TrainConfig(
        **{
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(TrainConfig)
            if f.metadata.get("cli", True)
        }
    )


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    with runtime(args):
        report = train(config)
    index = worker_from_tf_config()[0] if config.strategy == "multiworker" else 0
    if index:  # its files were in a scratch folder, removed: none in --out to list
        print(f"worker {index} of the cluster: trained; the chief (worker 0) writes the results")
    else:
        print(summary(report, config.out))
    return 0
