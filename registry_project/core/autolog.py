"""Autologging for scikit-learn: what a fitted estimator can tell about itself, recorded on
the run that fitted it.

Opt-in and explicit: the run calls `log_estimator` on the estimator it fitted
(`run.autolog_estimator(est, X_train, y_train, X_val, y_val)`; `register_model` does it for
a run started with `autolog=True`; so does the Dagster training asset with `autolog=True`).
Nothing in scikit-learn is patched: an estimator fitted outside a run, or in a run without
autolog, records nothing.

What is recorded:
- params: `get_params(deep=True)` (a pipeline's nested params flattened as `step__param`),
  scalars only, the user's own params winning over the estimator's of the same name;
- metrics: `training_score` and `validation_score`, the estimator's own `score` (accuracy
  for a classifier, R^2 for a regressor) when the data is given;
- artifacts: `feature_importances.csv` or `coefficients.csv` (with feature names) and its
  chart, as SVG always (`core/svg_chart.py`) and as `.png` too when matplotlib is
  installed (it is not a dependency),
  `input_signature.json`, and `confusion_matrix.csv` (+ `.png`) for a classifier or
  `residuals.csv` (+ `.png`) for a regressor, on the validation data when given, else the
  training data;
- tags: `autolog` = `sklearn`, `estimator` (the class), `autolog.evaluated_on`.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry_project.core import svg_chart
from registry_project.core.errors import InvalidInputError

if TYPE_CHECKING:
    from registry_project.core.registry import ModelRegistry

MAX_PARAM_TEXT = 500  # a non-scalar param (a callable, an array) is kept as its short repr
CHART_FEATURES = 30  # the chart shows the largest ones; the CSV has every feature


@dataclass(frozen=True)
class AutologRecord:
    """What `log_estimator` recorded on the run."""

    params: tuple[str, ...]
    metrics: tuple[str, ...]
    artifacts: tuple[str, ...]


def is_sklearn_estimator(obj: object) -> bool:
    """A scikit-learn estimator (or pipeline), without importing scikit-learn when the
    caller never did."""
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(obj, base.BaseEstimator)


def charts_available() -> bool:
    """Charts need matplotlib, which the registry does not depend on."""
    return importlib.util.find_spec("matplotlib") is not None


def estimator_params(estimator: Any) -> dict[str, Any]:
    """`get_params(deep=True)` as JSON scalars: nested estimators are left out (their own
    params are there, flattened as `step__param`), other objects kept as a short repr."""
    params: dict[str, Any] = {}
    for key, value in sorted(estimator.get_params(deep=True).items()):
        scalar = _scalar(value)
        if scalar is not _SKIP:
            params[key] = scalar
    return params


_SKIP: Any = object()


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if hasattr(value, "get_params") or _holds_estimators(value):
        return _SKIP
    return repr(value)[:MAX_PARAM_TEXT]


def _holds_estimators(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(hasattr(item, "get_params") or _holds_estimators(item) for item in value)
    return False


def final_estimator(estimator: Any) -> Any:
    """The last step of a pipeline (of nested pipelines), else the estimator itself."""
    while hasattr(estimator, "steps") and estimator.steps:
        estimator = estimator.steps[-1][1]
    return estimator


def feature_names(estimator: Any, X: Any, count: int) -> list[str]:
    """The names of the `count` features the final step sees: what the pipeline's steps
    before it output, else what the estimator was fitted on, else `x0`, `x1`, ..."""
    candidates: list[Any] = []
    if hasattr(estimator, "steps") and len(estimator.steps) > 1:
        # a step without get_feature_names_out: the fallbacks below
        with contextlib.suppress(AttributeError, TypeError, ValueError):
            candidates.append(estimator[:-1].get_feature_names_out())
    candidates.append(getattr(final_estimator(estimator), "feature_names_in_", None))
    candidates.append(getattr(estimator, "feature_names_in_", None))
    candidates.append(getattr(X, "columns", None))
    for names in candidates:
        if names is not None and len(names) == count:
            return [str(name) for name in names]
    return [f"x{i}" for i in range(count)]


def importance_table(estimator: Any, X: Any) -> tuple[str, list[str], list[list[Any]]] | None:
    """(artifact stem, header, rows) of the final step's `feature_importances_` or `coef_`,
    largest magnitude first; None when it has neither."""
    final = final_estimator(estimator)
    importances = getattr(final, "feature_importances_", None)
    if importances is not None:
        values = [float(v) for v in importances]
        names = feature_names(estimator, X, len(values))
        rows = sorted(zip(names, values, strict=True), key=lambda r: -abs(r[1]))
        return "feature_importances", ["feature", "importance"], [list(r) for r in rows]
    coef = getattr(final, "coef_", None)
    if coef is None:
        return None
    per_class = coef if getattr(coef, "ndim", 1) == 2 else [coef]
    matrix = [[float(v) for v in row] for row in per_class]
    names = feature_names(estimator, X, len(matrix[0]))
    classes = [str(c) for c in getattr(final, "classes_", [])]
    if len(matrix) == 1:
        header = ["feature", "coefficient"]
    else:  # one row of coefficients per class (multinomial)
        labels = classes if len(classes) == len(matrix) else [str(i) for i in range(len(matrix))]
        header = ["feature", *(f"coefficient[{label}]" for label in labels)]
    rows = [[name, *(row[i] for row in matrix)] for i, name in enumerate(names)]
    rows.sort(key=lambda r: -max(abs(v) for v in r[1:]))
    return "coefficients", header, rows


def signature_of(X: Any) -> list[dict[str, str]]:
    """The input columns (name, type) of training data: a DataFrame's columns with their
    Arrow types, an array's columns as `x0`, `x1`, ... with its dtype."""
    if getattr(X, "columns", None) is not None:
        from registry_project.core.flavors import signature_from_sample

        return [{"name": c.name, "type": c.type} for c in signature_from_sample(X.head(0))]
    shape = getattr(X, "shape", None)
    if not shape or len(shape) != 2:
        raise InvalidInputError(
            f"autolog needs 2-D training data (a DataFrame or an array), got {type(X).__name__}"
        )
    return [{"name": f"x{i}", "type": str(X.dtype)} for i in range(shape[1])]


def log_estimator(
    registry: ModelRegistry,
    run_id: str,
    estimator: Any,
    X_train: Any = None,
    y_train: Any = None,
    X_val: Any = None,
    y_val: Any = None,
) -> AutologRecord:
    """Record a fitted estimator on a run (see the module docstring). Data is optional:
    without it, params, importances and (from the fitted names) nothing data-derived."""
    if not is_sklearn_estimator(estimator):
        raise InvalidInputError(
            f"autolog records scikit-learn estimators, got {type(estimator).__name__}; log "
            "other models' params and metrics with run.log_params / run.log_metrics"
        )
    if (X_val is None) != (y_val is None) or (X_train is None) != (y_train is None):
        raise InvalidInputError(
            "pass features and labels together: X_train with y_train, X_val with y_val"
        )
    _require_fitted(estimator)
    from sklearn.base import is_classifier, is_regressor

    params = estimator_params(estimator)
    registry.log_run_params(run_id, params, keep_existing=True)
    metrics: dict[str, float] = {}
    for label, X, y in (("training", X_train, y_train), ("validation", X_val, y_val)):
        if X is not None and hasattr(estimator, "score"):
            metrics[f"{label}_score"] = float(estimator.score(X, y))
    if metrics:
        registry.log_run_metrics(run_id, metrics)

    artifacts: list[str] = []

    def store(name: str, data: bytes) -> None:
        registry.log_run_artifact(run_id, data, name=name)
        artifacts.append(name)

    def chart(name: str, draw: Any) -> None:
        if charts_available():
            from matplotlib.figure import Figure  # no pyplot: no global state touched

            figure = Figure(figsize=(6.4, 4.8), layout="constrained")
            draw(figure.subplots())
            registry.log_run_figure(run_id, figure, name)
            artifacts.append(name)

    table = importance_table(estimator, X_train)
    if table is not None:
        stem, header, rows = table
        store(f"{stem}.csv", _csv([header, *rows]))
        shown = rows[:CHART_FEATURES][::-1]
        largest = [(str(r[0]), float(r[1])) for r in rows[:CHART_FEATURES]]
        title = f"{header[1]} ({len(largest)} of {len(rows)} features)"
        store(f"{stem}.svg", svg_chart.horizontal_bars(largest, title))
        chart(f"{stem}.png", lambda ax: _bars(ax, shown, header[1]))
    if X_train is not None:
        store("input_signature.json", json.dumps(signature_of(X_train), indent=2).encode())
    X_eval, y_eval, evaluated_on = (
        (X_val, y_val, "validation") if X_val is not None else (X_train, y_train, "training")
    )
    if X_eval is not None and is_classifier(estimator):
        labels, matrix = _confusion(estimator, X_eval, y_eval)
        rows = [[actual, *counts] for actual, counts in zip(labels, matrix, strict=True)]
        store("confusion_matrix.csv", _csv([["actual \\ predicted", *labels], *rows]))
        chart("confusion_matrix.png", lambda ax: _matrix(ax, labels, matrix))
    elif X_eval is not None and is_regressor(estimator):
        predicted = _flat(estimator.predict(X_eval))
        residuals = [float(a) - float(p) for a, p in zip(_flat(y_eval), predicted, strict=True)]
        store("residuals.csv", _csv([["statistic", "value"], *_residual_summary(residuals)]))
        chart("residuals.png", lambda ax: _histogram(ax, residuals))
    tags = {"autolog": "sklearn", "estimator": _class_name(estimator)}
    if X_eval is not None:
        tags["autolog.evaluated_on"] = evaluated_on
    registry.set_run_tags(run_id, tags)
    return AutologRecord(tuple(params), tuple(metrics), tuple(artifacts))


def _require_fitted(estimator: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise InvalidInputError(
            f"autolog records a fitted estimator; fit {type(estimator).__name__} first"
        ) from exc


def _class_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _flat(values: Any) -> list[Any]:
    import numpy as np  # a scikit-learn dependency, imported with it

    return list(np.asarray(values).ravel())


def _csv(rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _confusion(estimator: Any, X: Any, y: Any) -> tuple[list[str], list[list[int]]]:
    from sklearn.metrics import confusion_matrix

    classes = list(getattr(estimator, "classes_", []))
    matrix = confusion_matrix(y, estimator.predict(X), labels=classes or None)
    return [str(c) for c in classes], [[int(v) for v in row] for row in matrix]


def _residual_summary(residuals: Sequence[float]) -> list[list[Any]]:
    ordered = sorted(residuals)
    n = len(ordered)

    def quantile(q: float) -> float:
        position = q * (n - 1)
        low = math.floor(position)
        high = min(low + 1, n - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    mean = sum(ordered) / n
    return [
        ["count", n],
        ["mean", mean],
        ["std", math.sqrt(sum((r - mean) ** 2 for r in ordered) / n)],
        ["mae", sum(abs(r) for r in ordered) / n],
        ["rmse", math.sqrt(sum(r * r for r in ordered) / n)],
        ["min", ordered[0]],
        ["p05", quantile(0.05)],
        ["median", quantile(0.5)],
        ["p95", quantile(0.95)],
        ["max", ordered[-1]],
    ]


# --- charts (matplotlib Axes, drawn only when matplotlib is installed) -----------------------


def _bars(ax: Any, rows: Sequence[Sequence[Any]], label: str) -> None:
    ax.barh([str(r[0]) for r in rows], [float(r[1]) for r in rows])
    ax.set_xlabel(label)


def _matrix(ax: Any, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> None:
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center")


def _histogram(ax: Any, residuals: Sequence[float]) -> None:
    ax.hist(residuals, bins=30)
    ax.set_xlabel("residual (actual - predicted)")
