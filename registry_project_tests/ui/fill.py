"""A registry filled through the public API the way a team's would look after a few weeks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from registry_project import ModelRegistry, Stage

# (C, max_iter, auc, accuracy) of the churn versions 1..5.
CHURN = [
    (0.1, 100, 0.8103, 0.852),
    (1.0, 100, 0.8439, 0.860),
    (10.0, 200, 0.8431, 0.854),
    (3.0, 300, 0.8517, 0.866),
    (0.3, 300, 0.8392, 0.849),
]


@dataclass(frozen=True)
class Demo:
    customers_id: str
    holdout_id: str
    legacy_id: str
    events_id: str
    dagster_run_id: str


def _customers(rows: int, seed: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tenure_months": [(i * 7 + seed) % 72 for i in range(rows)],
            "monthly_charges": [20.0 + (i * 13 + seed) % 90 for i in range(rows)],
            "support_calls": [(i + seed) % 6 for i in range(rows)],
            "churned": [(i + seed) % 4 == 0 for i in range(rows)],
        }
    )


def fill_demo(reg: ModelRegistry) -> Demo:
    """churn v1..v5 (v2 in production after v1, v4 approved and staged), fraud v1 without a
    run, four datasets of which one was deleted (forced) and one is a pinned reference."""
    customers = reg.snapshot_dataset("customers", _customers(200, 1), actor="pipeline")
    holdout = reg.snapshot_dataset("customers-holdout", _customers(50, 2), actor="pipeline")
    legacy = reg.snapshot_dataset("customers-legacy", _customers(30, 3), actor="pipeline")
    events = reg.reference_dataset(
        "events",
        uri="s3://lake/events/2026-11.parquet",
        version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        row_count=1_250_000,
        expires_at=datetime.now(UTC) + timedelta(days=90),
        actor="pipeline",
    )
    dagster_run_id = "8d5f3c1a-52b7-4e0e-9a51-1f0c2b7a9e11"
    for index, (c, max_iter, auc, accuracy) in enumerate(CHURN, start=1):
        inputs = {"train": [customers, legacy] if index == 3 else customers, "test": holdout}
        params = {"C": c, "max_iter": max_iter, "penalty": "l2", "features": ["tenure", "calls"]}
        with reg.start_run(
            "churn-training",
            params=params,
            inputs=inputs,
            actor="pipeline",
            dagster_run_id=dagster_run_id if index == 5 else None,
        ) as run:
            reg.register_model(
                "churn",
                {"C": c},
                run=run,
                metrics={"auc": auc - 0.01, "accuracy": accuracy - 0.01},
                signature=_customers(3, 0).drop(columns="churned"),
                description="logistic regression on tenure, charges and support calls",
                actor="carol",
            )
        reg.log_metrics(
            f"churn/{index}", {"auc": auc, "accuracy": accuracy}, dataset=holdout, actor="ci"
        )
    reg.promote("churn/1", actor="alice", reason="first model")
    reg.transition("churn/2", Stage.STAGING, actor="ci", reason="passed the quality gates")
    reg.promote("churn/2", actor="alice", reason="auc 0.844 > 0.810 on the holdout")
    reg.approve("churn/4", actor="bob", reason="reviewed the evaluation")
    reg.transition("churn/4", Stage.STAGING, actor="ci", reason="passed the quality gates")
    reg.transition("churn/3", Stage.ARCHIVED, actor="alice", reason="superseded by v4")
    reg.delete_dataset(legacy, actor="dpo", reason="GDPR request 17", force=True)
    reg.register_model("fraud", {"w": 1}, metrics={"recall": 0.7}, actor="dave")
    return Demo(customers.id, holdout.id, legacy.id, events.id, dagster_run_id)
