"""Synthetic customer data, generated deterministically per day.

Each day's data differs a little (seeded by the date, with a slow drift in behaviour), so
every daily retraining sees new data and produces a different version, while re-running the
same day reproduces the same bytes (and so the same snapshot digest).
"""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pandas as pd

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "age", "is_annual_plan"]
LABEL = "churned"


def _seed(day: date, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{day.isoformat()}:{salt}".encode()).digest()[:8], "big")


def generate_customers(day: date, rows: int, *, salt: str = "train") -> pd.DataFrame:
    """Customers with a churn label that depends on tenure, charges, support calls and plan."""
    rng = np.random.default_rng(_seed(day, salt))
    drift = (day.toordinal() % 30) / 30.0  # behaviour shifts slowly across a month
    tenure = rng.integers(1, 72, size=rows)
    charges = rng.normal(70 + 10 * drift, 25, size=rows).clip(15, 150)
    calls = rng.poisson(1.5 + drift, size=rows)
    age = rng.integers(18, 80, size=rows)
    annual = rng.random(rows) < 0.35
    logit = (
        -1.0
        - 0.045 * tenure
        + 0.025 * (charges - 70)
        + 0.55 * calls
        - 1.2 * annual
        + rng.normal(0, 0.8, size=rows)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer_id": [f"{salt[:1]}{day:%Y%m%d}-{i:05d}" for i in range(rows)],
            "tenure_months": tenure.astype("int64"),
            "monthly_charges": charges.round(2),
            "support_calls": calls.astype("int64"),
            "age": age.astype("int64"),
            "is_annual_plan": annual.astype("int64"),
            LABEL: churned.astype("int64"),
        }
    )
