"""Autologging for scikit-learn (core/autolog.py): opt-in, explicit, nothing patched."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from registry_project import ModelRegistry
from registry_project.core import autolog
from registry_project.core.errors import InvalidInputError, InvalidParamsError


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X[:400], y[:400], X[400:], y[400:]


def read_artifact(registry: ModelRegistry, run_id: str, name: str, tmp_path: Path) -> bytes:
    target = tmp_path / name
    registry.download_run_artifact(run_id, name, target)
    return target.read_bytes()


def read_csv(registry: ModelRegistry, run_id: str, name: str, tmp_path: Path) -> list[list[str]]:
    text = read_artifact(registry, run_id, name, tmp_path).decode()
    return list(csv.reader(io.StringIO(text)))


def test_pipeline_params_coefficients_signature_and_confusion(
    registry: ModelRegistry, cancer, tmp_path: Path
) -> None:
    X, y, X_val, y_val = cancer
    pipe = Pipeline(
        [("scale", StandardScaler()), ("clf", LogisticRegression(C=0.5, max_iter=1000))]
    )
    with registry.start_run("pipe", params={"C": 9.0}, autolog=True) as run:
        pipe.fit(X, y)
        record = run.autolog_estimator(pipe, X, y, X_val, y_val)
    info = registry.get_run(run.id)
    # nested params flattened as step__param; the user's own params win and stay
    assert info.params["clf__C"] == 0.5
    assert info.params["clf__max_iter"] == 1000
    assert info.params["scale__with_mean"] is True
    assert info.params["C"] == 9.0
    assert "steps" not in info.params and "clf" not in info.params
    assert info.metrics["training_score"] == pytest.approx(pipe.score(X, y))
    assert info.metrics["validation_score"] == pytest.approx(pipe.score(X_val, y_val))
    assert info.tags["autolog"] == "sklearn"
    assert info.tags["estimator"] == "sklearn.pipeline.Pipeline"
    assert info.tags["autolog.evaluated_on"] == "validation"
    names = {a.name for a in registry.run_artifacts(run.id)}
    assert set(record.artifacts) == names
    assert {"coefficients.csv", "input_signature.json", "confusion_matrix.csv"} <= names

    rows = read_csv(registry, run.id, "coefficients.csv", tmp_path)
    assert rows[0] == ["feature", "coefficient"]
    by_feature = {r[0]: float(r[1]) for r in rows[1:]}
    # the feature names the scaler passed on are the DataFrame's columns
    assert set(by_feature) == set(X.columns)
    coef = pipe.named_steps["clf"].coef_[0]
    assert by_feature["mean radius"] == pytest.approx(coef[list(X.columns).index("mean radius")])
    magnitudes = [abs(float(r[1])) for r in rows[1:]]
    assert magnitudes == sorted(magnitudes, reverse=True)

    signature = json.loads(read_artifact(registry, run.id, "input_signature.json", tmp_path))
    assert [c["name"] for c in signature] == list(X.columns)
    assert {c["type"] for c in signature} == {"double"}

    matrix = read_csv(registry, run.id, "confusion_matrix.csv", tmp_path)
    assert matrix[0] == ["actual \\ predicted", "0", "1"]
    assert sum(int(v) for row in matrix[1:] for v in row[1:]) == len(X_val)
    correct = int(matrix[1][1]) + int(matrix[2][2])
    assert correct / len(X_val) == pytest.approx(info.metrics["validation_score"])


def test_random_forest_importances_with_feature_names(
    registry: ModelRegistry, cancer, tmp_path: Path
) -> None:
    X, y, _, _ = cancer
    forest = RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0).fit(X, y)
    with registry.start_run("forest", autolog=True) as run:
        run.autolog_estimator(forest, X, y)
    info = registry.get_run(run.id)
    assert info.params["n_estimators"] == 15
    assert info.params["max_depth"] == 4
    assert info.tags["autolog.evaluated_on"] == "training"
    assert "validation_score" not in info.metrics
    rows = read_csv(registry, run.id, "feature_importances.csv", tmp_path)
    assert rows[0] == ["feature", "importance"]
    importances = {r[0]: float(r[1]) for r in rows[1:]}
    assert importances == pytest.approx(
        dict(zip(X.columns, forest.feature_importances_, strict=True))
    )
    names = {a.name for a in registry.run_artifacts(run.id)}
    assert "input_signature.json" in names and "confusion_matrix.csv" in names
    # matplotlib is not a dependency: without it there is no PNG chart, and nothing fails
    assert ("feature_importances.png" in names) == autolog.charts_available()
    # the SVG chart is always there: the largest importances, each feature named
    chart = ElementTree.fromstring(_artifact_bytes(registry, run.id, "feature_importances.svg"))
    drawn = [e.text for e in chart.iter("{http://www.w3.org/2000/svg}text")]
    largest = max(importances, key=importances.get)
    assert largest in drawn and len(chart.findall("{http://www.w3.org/2000/svg}rect")) == len(
        importances
    )


def test_register_model_autologs_when_the_run_asks(sqlite_registry: ModelRegistry, cancer) -> None:
    X, y, _, _ = cancer
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    with sqlite_registry.start_run("auto", autolog=True) as run:
        sqlite_registry.register_model("cancer", forest, run=run, signature=X.head())
    info = sqlite_registry.get_run(run.id)
    assert info.params["n_estimators"] == 5
    names = {a.name for a in sqlite_registry.run_artifacts(run.id)}
    assert "feature_importances.csv" in names
    assert info.tags["estimator"].endswith("RandomForestClassifier")


def test_autolog_off_logs_nothing(sqlite_registry: ModelRegistry, cancer) -> None:
    X, y, _, _ = cancer
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    with sqlite_registry.start_run("manual", params={"seed": 0}) as run:
        sqlite_registry.register_model("cancer", forest, run=run, signature=X.head())
        sqlite_registry.register_or_reuse("cancer", forest, run=run)
    info = sqlite_registry.get_run(run.id)
    assert dict(info.params) == {"seed": 0}
    assert dict(info.metrics) == {}
    assert "autolog" not in info.tags
    assert sqlite_registry.run_artifacts(run.id) == []
    # an estimator fitted outside any run after autolog was used records nothing either
    with sqlite_registry.start_run("logged", autolog=True) as logged:
        logged.autolog_estimator(forest, X, y)
    RandomForestClassifier(n_estimators=3).fit(X, y)
    assert sqlite_registry.get_run(run.id).params == info.params


def test_regressor_residual_summary(sqlite_registry: ModelRegistry, tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True)  # numpy arrays: features named x0, x1, ...
    model = LinearRegression().fit(X, y)
    with sqlite_registry.start_run("reg", autolog=True) as run:
        run.autolog_estimator(model, X, y)
    rows = read_csv(sqlite_registry, run.id, "coefficients.csv", tmp_path)
    assert {r[0] for r in rows[1:]} == {f"x{i}" for i in range(X.shape[1])}
    summary = dict(read_csv(sqlite_registry, run.id, "residuals.csv", tmp_path)[1:])
    residuals = y - model.predict(X)
    assert float(summary["mean"]) == pytest.approx(residuals.mean(), abs=1e-6)
    assert float(summary["rmse"]) == pytest.approx(float((residuals**2).mean() ** 0.5))
    assert int(summary["count"]) == len(y)
    names = {a.name for a in sqlite_registry.run_artifacts(run.id)}
    assert "confusion_matrix.csv" not in names


def test_bad_input_is_refused_before_anything_is_logged(
    sqlite_registry: ModelRegistry, cancer
) -> None:
    X, y, _, _ = cancer
    with sqlite_registry.start_run("bad", autolog=True) as run:
        with pytest.raises(InvalidInputError, match="scikit-learn estimators"):
            run.autolog_estimator(object(), X, y)
        with pytest.raises(InvalidInputError, match="fit RandomForestClassifier first"):
            run.autolog_estimator(RandomForestClassifier(), X, y)
        with pytest.raises(InvalidInputError, match="together"):
            run.autolog_estimator(LogisticRegression().fit(X, y), X, None)
    info = sqlite_registry.get_run(run.id)
    assert dict(info.params) == {} and sqlite_registry.run_artifacts(run.id) == []


def test_log_params_never_rewrites_a_param(sqlite_registry: ModelRegistry) -> None:
    with sqlite_registry.start_run("p", params={"lr": 0.1}) as run:
        run.log_params({"lr": 0.1, "layers": 3})
        with pytest.raises(InvalidParamsError, match="never rewritten"):
            run.log_params({"lr": 0.2, "depth": 4})
    assert dict(sqlite_registry.get_run(run.id).params) == {"lr": 0.1, "layers": 3}


def _artifact_bytes(registry: ModelRegistry, run_id: str, name: str) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / name
        registry.download_run_artifact(run_id, name, target)
        return target.read_bytes()


def test_the_svg_chart_escapes_labels_and_draws_negative_values_left_of_zero() -> None:
    from registry_project.core.svg_chart import horizontal_bars

    svg = ElementTree.fromstring(horizontal_bars([("<script>x</script>", -2.0), ("b&c", 1.0)], "t"))
    texts = [e.text for e in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "<script>x</script>" in texts and "b&c" in texts  # escaped in the file, parsed back
    assert not list(svg.iter("{http://www.w3.org/2000/svg}script"))
    # A title with quotes stays inside its aria-label attribute: no attribute injected.
    hostile = 'x" onload="alert(1)'
    titled = ElementTree.fromstring(horizontal_bars([("a", 1.0)], hostile))
    assert titled.get("aria-label") == hostile and titled.get("onload") is None
    negative, positive = svg.findall("{http://www.w3.org/2000/svg}rect")
    zero = float(svg.find("{http://www.w3.org/2000/svg}line").get("x1"))
    assert float(negative.get("x")) + float(negative.get("width")) == pytest.approx(zero, abs=0.1)
    assert float(positive.get("x")) == pytest.approx(zero, abs=0.1)
