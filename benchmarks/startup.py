"""`python -m benchmarks.startup`: the CLI's start-up, timed as whole processes.

Examples:
    python -m benchmarks.startup                       # 15 runs of each command
    python -m benchmarks.startup --runs 30 --json

What a user waits for when typing a command is the whole process: the interpreter, the
imports, opening the registry and one query. Each command runs `--runs` times in turns
(ours, MLflow's, the bare interpreter, ours, ...), so a drift of the machine's speed falls
on every side; the first run of each is reported apart (a cold page cache), the others as
a median, and the mean is over every run.

- `registry --help` beside `mlflow --help` (MLflow's own CLI, same interpreter).
- `registry versions bench --limit 20` on a SQLite registry of 100 versions, beside
  `mlflow runs list --experiment-id ...` on an MLflow SQLite store of 100 runs: MLflow's
  CLI has no command that lists model versions, and listing runs is its closest read.
- `registry models` and `registry audit --newest-first --limit 20` on that registry, which
  read it on the stdlib driver as `versions` does, and `registry show bench/1`, which opens
  the registry (SQLAlchemy and the facade): what every other command costs.
- `python -c pass`: the floor every Python CLI pays.

Bytecode is compiled first and written (`PYTHONDONTWRITEBYTECODE` is cleared for the
child processes): a user's installed package has its `.pyc` files, so timing the
compilation of every module on each run would measure something no user waits for.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from benchmarks.harness import machine_info

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = 100


def _script(name: str) -> str:
    """A console script of this interpreter's environment (not a pyenv shim, which is a
    shell script that starts another process first)."""
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        raise SystemExit(f"{name} is not installed in {path.parent}: pip install -e '.[dev]'")
    return str(path)


def _prepare(directory: Path) -> tuple[dict[str, str], str]:
    """A registry of VERSIONS versions and an MLflow store of VERSIONS runs; the child
    environment pointing at the registry, and the MLflow experiment id."""
    from registry_project import ModelRegistry

    registry_dir = directory / "registry"
    with ModelRegistry.open(
        f"sqlite:///{registry_dir / 'registry.db'}", str(registry_dir / "artifacts")
    ) as registry:
        for i in range(VERSIONS):
            registry.register_model("bench", i, metrics={"auc": i / VERSIONS})

    from mlflow import MlflowClient

    uri = f"sqlite:///{directory / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("bench", artifact_location=str(directory / "mlruns"))
    for i in range(VERSIONS):
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "auc", i / VERSIONS)
        client.set_terminated(run.info.run_id)
    environment = {
        **os.environ,
        "REGISTRY_DATABASE_URL": f"sqlite:///{registry_dir / 'registry.db'}",
        "REGISTRY_ARTIFACT_ROOT": str(registry_dir / "artifacts"),
        "MLFLOW_TRACKING_URI": uri,
    }
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment, experiment


def _compile_bytecode() -> None:
    """Write the .pyc files an installed package has (see the module docstring)."""
    import click
    import mlflow
    import rich
    import sqlalchemy

    for package in (
        ROOT / "registry_project",
        *(Path(m.__file__).parent for m in (click, rich, sqlalchemy, mlflow)),
    ):
        compileall.compile_dir(str(package), quiet=1, workers=0)


def _time(command: list[str], environment: dict[str, str], cwd: Path) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, env=environment, cwd=cwd, capture_output=True, text=True)
    elapsed = (time.perf_counter() - began) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "first_ms": samples[0],
        "median_ms": statistics.median(samples[1:]),
        "mean_ms": statistics.fmean(samples),
        "runs": len(samples),
    }


def run(runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work)
        environment, experiment = _prepare(directory)
        _compile_bytecode()
        registry, mlflow = _script("registry"), _script("mlflow")
        commands = {
            "registry --help": [registry, "--help"],
            "mlflow --help": [mlflow, "--help"],
            "registry versions bench --limit 20": [registry, "versions", "bench", "--limit", "20"],
            "mlflow runs list --experiment-id": [
                mlflow,
                "runs",
                "list",
                "--experiment-id",
                experiment,
            ],
            "registry models": [registry, "models"],
            "registry audit --newest-first --limit 20": [
                registry,
                "audit",
                "--newest-first",
                "--limit",
                "20",
            ],
            "registry show bench/1": [registry, "show", "bench/1"],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                samples[name].append(_time(command, environment, directory))
    return {
        "machine": machine_info(),
        "commands": {name: _summary(values) for name, values in samples.items()},
    }


def markdown(result: dict[str, object]) -> str:
    lines = [
        "| command | median ms | mean ms | first run ms | runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in result["commands"].items():  # type: ignore[union-attr]
        lines.append(
            f"| `{name}` | {row['median_ms']:.0f} | {row['mean_ms']:.0f} | "
            f"{row['first_ms']:.0f} | {row['runs']} |"
        )
    machine = ", ".join(f"{k}: {v}" for k, v in result["machine"].items())  # type: ignore[union-attr]
    return "\n".join(lines) + f"\n\nMachine: {machine}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (>= 2)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    arguments = parser.parse_args()
    if arguments.runs < 2:
        parser.error("--runs must be at least 2: the first run is reported apart")
    result = run(arguments.runs)
    print(json.dumps(result, indent=2) if arguments.json else markdown(result))


if __name__ == "__main__":
    main()
