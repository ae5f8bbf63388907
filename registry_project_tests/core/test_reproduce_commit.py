"""Reproduce imports the training function from the recorded commit: a version trained at
commit A, its training module changed and committed as B, reproduced from B's checkout
trains with A's code (bit-identical) in a child process whose sys.path starts at A's
temporary worktree; a changed param or package is reported; a failing training records
nothing."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, roc_auc_score

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project.core import environment, errors
from registry_project.core.entities import ReproductionOutcome
from registry_project.core.reproduce import ReproductionInputs
from registry_project_tests.gitrepo import git

TRAINMOD = """
from dataclasses import replace

from sklearn.linear_model import LogisticRegression

FEATURES = {features!r}


def fit(inputs):
    data = inputs.datasets["train"]
    model = LogisticRegression(C=inputs.params["C"], random_state=0)
    return model.fit(data[FEATURES], data["y"])


def fit_other_c(inputs):
    return fit(replace(inputs, params={{**inputs.params, "C": 0.001}}))


def broken(inputs):
    raise RuntimeError("the training blew up")
"""


def frame(seed: int, rows: int) -> pd.DataFrame:
    values = [(i * 37 + seed) % 101 / 101 for i in range(rows)]
    return pd.DataFrame(
        {"x1": values, "x2": [(v * 7) % 1 for v in values], "y": [int(v > 0.5) for v in values]}
    )


def evaluate(model: Any, data: pd.DataFrame) -> dict[str, float]:
    features = list(model.feature_names_in_)
    return {
        "auc": float(roc_auc_score(data["y"], model.predict_proba(data[features])[:, 1])),
        "accuracy": float(accuracy_score(data["y"], model.predict(data[features]))),
    }


def fresh_trainmod(project: Path) -> Any:
    """`trainmod` as the working tree has it now (not a module cached from earlier)."""
    sys.modules.pop("trainmod", None)
    return importlib.import_module("trainmod")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "trainmod.py").write_text(TRAINMOD.format(features=["x1", "x2"]))
    (repo / ".gitignore").write_text("registry/\n__pycache__/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "A: two features")
    monkeypatch.chdir(repo)
    monkeypatch.syspath_prepend(str(repo))
    environment._recent_captures.clear()
    yield repo
    sys.modules.pop("trainmod", None)


@pytest.fixture
def reg(project: Path) -> ModelRegistry:
    registry = ModelRegistry.open(f"sqlite:///{project / 'registry' / 'r.db'}", "registry/art")
    yield registry
    registry.close()


def train_at_a_then_commit_b(reg: ModelRegistry, project: Path) -> tuple[str, str]:
    """A version trained with A's trainmod; then trainmod changed and committed as B."""
    train = reg.snapshot_dataset("customers", frame(1, 300))
    holdout = reg.snapshot_dataset("holdout", frame(2, 100))
    trainmod = fresh_trainmod(project)
    with reg.start_run("churn-training", params={"C": 1.0}, inputs=[train]) as run:
        inputs = ReproductionInputs(None, {"C": 1.0}, {"train": reg.load_dataset(train)}, project)  # type: ignore[arg-type]
        model = trainmod.fit(inputs)
        version = reg.register_model("churn", model, run=run, actor="carol")
    reg.log_metrics(version, evaluate(model, reg.load_dataset(holdout)), dataset=holdout)
    commit_a = git(project, "rev-parse", "HEAD")
    (project / "trainmod.py").write_text(TRAINMOD.format(features=["x1"]))
    git(project, "commit", "-q", "-am", "B: one feature")
    environment._recent_captures.clear()
    return version.ref, commit_a


def test_reproduce_from_a_later_commit_trains_with_the_recorded_code(
    reg: ModelRegistry, project: Path
) -> None:
    ref, commit_a = train_at_a_then_commit_b(reg, project)
    assert reg.lineage(ref).code.commit == commit_a != git(project, "rev-parse", "HEAD")
    # B's code, run here, trains another model: a reproduction with it could not match.
    b_model = fresh_trainmod(project).fit(
        ReproductionInputs(None, {"C": 1.0}, {"train": frame(1, 300)}, project)  # type: ignore[arg-type]
    )
    assert b_model.n_features_in_ == 1
    result = reg.reproduce(ref, train="trainmod:fit", actor="auditor")
    assert result.outcome is ReproductionOutcome.IDENTICAL, result.detail
    assert result.artifact_digest == reg.get_version(ref).artifact_digest
    assert f"trained by trainmod:fit in a child process at commit {commit_a[:12]}" in result.detail
    assert "outside the recorded commit" not in result.detail  # trainmod.py came from A
    assert len(git(project, "worktree", "list").splitlines()) == 1
    # The module-level function of the current tree travels by name too: A's code trains.
    sys.modules.pop("trainmod", None)
    assert reg.reproduce(ref, train=fresh_trainmod(project).fit).reproduced


def test_a_changed_param_or_package_is_reported_at_the_recorded_commit(
    reg: ModelRegistry, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, commit_a = train_at_a_then_commit_b(reg, project)
    changed = reg.reproduce(ref, train="trainmod:fit_other_c", evaluate=evaluate, tolerance=0.0)
    assert changed.outcome is ReproductionOutcome.DIFFERENT
    assert f"child process at commit {commit_a[:12]}" in changed.detail
    assert set(changed.metric_differences) == {"holdout:auc", "holdout:accuracy"}
    assert any(d != 0 for d in changed.metric_differences.values())
    installed = environment.installed_packages()
    other = tuple(
        "scikit-learn==0.0.1" if line.startswith("scikit-learn==") else line for line in installed
    )
    monkeypatch.setattr(environment, "installed_packages", lambda: other)
    result = reg.reproduce(ref, train="trainmod:fit")
    was = next(line for line in installed if line.startswith("scikit-learn=="))
    assert result.outcome is ReproductionOutcome.IDENTICAL
    assert result.environment_differences == (
        f"package scikit-learn {was.split('==')[1]} -> 0.0.1",
    )


def test_a_training_that_fails_or_is_not_in_the_commit_records_nothing(
    reg: ModelRegistry, project: Path
) -> None:
    ref, commit_a = train_at_a_then_commit_b(reg, project)
    with pytest.raises(errors.ReproductionFailedError) as failed:
        reg.reproduce(ref, train="trainmod:broken")
    assert f"at commit {commit_a[:12]} failed" in str(failed.value)
    assert "the training blew up" in str(failed.value)
    with pytest.raises(errors.ReproductionFailedError, match="only_in_b"):
        reg.reproduce(ref, train="trainmod:only_in_b")
    assert reg.latest_reproduction(ref) is None and not reg.audit_log(action="reproduce")
    with pytest.raises(errors.InvalidInputError, match="is not MODULE:FUNCTION"):
        reg.reproduce(ref, train="trainmod")


def test_registry_reproduce_from_a_later_checkout(reg: ModelRegistry, project: Path) -> None:
    ref, commit_a = train_at_a_then_commit_b(reg, project)
    base = ["--database-url", f"sqlite:///{project / 'registry' / 'r.db'}"]
    base += ["--artifact-root", "registry/art", "--actor", "auditor"]
    done = CliRunner().invoke(cli, [*base, "reproduce", ref, "--train", "trainmod:fit"])
    assert done.exit_code == 0, done.output
    assert f"{ref}: identical" in done.output and commit_a[:12] in done.output
    failed = CliRunner().invoke(cli, [*base, "reproduce", ref, "--train", "trainmod:broken"])
    assert failed.exit_code == 1 and "the training blew up" in failed.output
    assert (
        "Traceback" not in failed.output and "RuntimeError: the training blew up" in failed.output
    )
