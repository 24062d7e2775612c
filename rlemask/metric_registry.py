"""The registry of scoring metrics, and the plugin contract.

Built-in metrics: ``"dice"``, ``"class-dice"``, ``"global-dice"``,
``"iou-sweep"``, ``"f2-sweep"``, ``"dice-hausdorff"`` (see
:mod:`rlemask.field_metrics`).  Another package adds one at run time with
:func:`register_metric`, or by being installed: an entry point in the group
``rlemask.metrics`` whose name is the metric's name::

    # the plugin's pyproject.toml
    [project.entry-points."rlemask.metrics"]
    my-metric = "mypackage.scoring:my_metric"

Entry points are loaded lazily, the first time an unknown name is looked up
or when :func:`metrics` lists the names.

Plugin contract
---------------
A metric is a callable ``metric(pairs, **options) -> MetricResult``
(:class:`rlemask.field_metrics.MetricResult`) of a
:class:`rlemask.score_pairs.ScorePairs`, which computes on the runs what
metrics need (``dice_counts()``, ``match(thresholds)``, ``union()``,
``objects()``).  Optional attributes: ``keys`` (``"image"``, the
default, or ``"class"``: what one scored key is), ``needs_shape``
(default ``False``) and ``mean_over_keys`` (default ``False``; true: the
score is the mean of the rows' scores, so a subset's needs no second pass).
It must reject unknown options with ``TypeError`` (keyword-only parameters
do) and return every empty rule it applied in ``MetricResult.options``.

Examples
--------
>>> import rlemask
>>> rlemask.metrics()[:3]
['class-dice', 'dice', 'dice-hausdorff']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rlemask._registry import PluginRegistry

__all__ = ["ENTRY_POINT_GROUP", "get_metric", "metrics", "register_metric"]

ENTRY_POINT_GROUP = "rlemask.metrics"

# built-ins by import path, so that listing them imports nothing
_BUILTIN: dict[str, str] = {
    "dice": "rlemask.field_metrics:dice",
    "class-dice": "rlemask.field_metrics:class_dice",
    "global-dice": "rlemask.field_metrics:global_dice",
    "iou-sweep": "rlemask.field_metrics:iou_sweep",
    "f2-sweep": "rlemask.field_metrics:f2_sweep",
    "dice-hausdorff": "rlemask.field_metrics:dice_hausdorff",
}


def _check_metric(name: str, metric: Any) -> Callable[..., Any]:
    if not callable(metric):
        raise TypeError(f"a metric for {name!r} must be callable; received {metric!r}")
    keys = getattr(metric, "keys", "image")
    if keys not in ("image", "class"):
        raise ValueError(
            f'metric {name!r}: `keys` must be "image" or "class"; received keys={keys!r}'
        )
    return metric


#: the metrics: built-ins, run-time registrations, entry points of ENTRY_POINT_GROUP
_METRICS = PluginRegistry("metric", ENTRY_POINT_GROUP, _BUILTIN, _check_metric)


def register_metric(name: str, metric: Callable[..., Any], *, replace: bool = False) -> None:
    """Register ``metric`` under ``name`` (see the plugin contract in this module).

    Parameters
    ----------
    name : str
        The name used by ``rlemask.score(..., metric=name)``.
    metric : callable
        ``metric(pairs, **options) -> MetricResult``.
    replace : bool
        Allow replacing a registered metric (built-ins included).

    Raises
    ------
    ValueError
        ``name`` is taken and ``replace`` is false, or a bad ``keys``.
    TypeError
        ``metric`` is not callable.

    Examples
    --------
    >>> import rlemask
    >>> from rlemask.field_metrics import MetricResult
    >>> def truth_objects(pairs):
    ...     n = pairs.n_objects(0)
    ...     return MetricResult(float(n), [], {})
    >>> rlemask.register_metric("truth-objects", truth_objects, replace=True)
    >>> rlemask.score({"a": ["1 2", "5 1"]}, {"a": ["1 2", "5 1"]},
    ...               metric="truth-objects", format="kaggle").score
    2.0
    """
    _METRICS.register(name, metric, replace=replace)


def metrics() -> list[str]:
    """Sorted names of the available metrics (built-ins, registered, entry points).

    Examples
    --------
    >>> import rlemask
    >>> "iou-sweep" in rlemask.metrics()
    True
    """
    return _METRICS.names()


def get_metric(name: str) -> Callable[..., Any]:
    """The metric registered as ``name``.

    Raises
    ------
    ValueError
        Unknown name; the message lists the available metrics.

    Examples
    --------
    >>> get_metric("f2-sweep").keys
    'image'
    """
    return _METRICS.get(name)
