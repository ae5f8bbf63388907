"""The external training process of the Pipes tests, launched by PipesSubprocessClient.

It first makes `import dagster` impossible, so it proves `registry_project.pipes` needs
neither Dagster nor the orchestration layer. `PIPES_TRAIN_MODE` picks the outcome: `ok`
trains and reports, `crash` dies after storing its artifact, `nan` reports a NaN metric.
"""

import os
import sys

sys.modules["dagster"] = None  # type: ignore[assignment]  # any import of it now fails

from sklearn.linear_model import LogisticRegression  # noqa: E402

from registry_project.pipes import open_registry_pipes  # noqa: E402

FEATURES = ["tenure_months", "monthly_charges", "support_calls"]

with open_registry_pipes() as training:
    mode = os.environ.get("PIPES_TRAIN_MODE", "ok")
    train = training.load_input("train")
    model = LogisticRegression(C=float(training.params["C"]), max_iter=500)
    model.fit(train[FEATURES], train["churned"])
    accuracy = float(model.score(train[FEATURES], train["churned"]))
    if mode == "crash":
        training.blobs.put_bytes(b"half a model")  # written, never reported
        raise SystemExit("training diverged (simulated crash)")
    training.report_model(
        model,
        metrics={"train_accuracy": float("nan") if mode == "nan" else accuracy},
        params={"solver": model.solver, "seen_by_process": sorted(training.params)},
        signature=train[FEATURES].head(),
    )
