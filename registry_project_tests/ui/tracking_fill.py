"""An experiment with tracked runs for the tracking pages: step-metric curves, params,
tags, and artifacts of each kind the run page shows (a PNG, a CSV, a JSON file, a model)."""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression

from registry_project import ModelRegistry

EXPERIMENT = "churn-sweep"


def tiny_png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (a colour gradient), written by hand: matplotlib is not a dependency."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\0" + b"".join(bytes((x * 10 % 256, y * 15 % 256, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


CSV = b"feature,importance\ntenure_months,0.41\nmonthly_charges,0.33\nsupport_calls,0.26\n"


@dataclass(frozen=True)
class Sweep:
    run_ids: tuple[str, ...]  # in the order they were started
    png: bytes


def fill_sweep(registry: ModelRegistry, *, steps: int = 50) -> Sweep:
    """Three runs of one experiment with a loss curve of `steps` steps each, a final
    val_auc, params and tags; the last has the artifacts."""
    ids = []
    png = tiny_png()
    for index, lr in enumerate((0.3, 0.1, 0.03)):
        with registry.start_run(
            f"trial-{index}",
            experiment=EXPERIMENT,
            params={"lr": lr, "layers": 2},
            tags={"team": "risk", "trial": str(index)},
            capture_environment=False,
        ) as run:
            for step in range(steps):
                loss = 1.0 / (1.0 + lr * step) + 0.02 * math.sin(step / 7)
                run.log_metric("loss", loss, step=step)
            run.log_metric("val_auc", 0.80 + 0.02 * index)
            if index == 2:
                run.log_artifact(png, "curves/confusion.png")
                run.log_artifact(CSV, "feature_importances.csv")
                run.log_artifact(b'{"C": 1.0, "note": "<b>not bold</b>"}', "config.json")
                run.log_model(LogisticRegression(C=0.5))
        ids.append(run.id)
    return Sweep(tuple(ids), png)
