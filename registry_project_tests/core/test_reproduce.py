"""Reproducing a version from its record, in a real git repository: bit-identical, at the
recorded commit through a temporary worktree, a changed param or package reported, and
every record that cannot be rebuilt refused before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

from registry_project import ModelRegistry
from registry_project.core import environment, errors
from registry_project.core.entities import ReproductionOutcome
from registry_project.core.reproduce import ReproductionInputs
from registry_project_tests.gitrepo import git


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean git repository as the working directory; `features.txt` is "code" the
    training function reads from the tree it runs in."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "features.txt").write_text("x1 x2\n")
    (repo / ".gitignore").write_text("registry/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    monkeypatch.chdir(repo)
    environment._recent_captures.clear()
    return repo


@pytest.fixture
def reg(project: Path) -> ModelRegistry:
    registry = ModelRegistry.open(f"sqlite:///{project / 'registry' / 'r.db'}", "registry/art")
    yield registry
    registry.close()


def frame(seed: int, rows: int) -> pd.DataFrame:
    values = [(i * 37 + seed) % 101 / 101 for i in range(rows)]
    return pd.DataFrame(
        {
            "x1": values,
            "x2": [(v * 7) % 1 for v in values],
            "y": [int(v > 0.5) for v in values],
        }
    )


def fit(inputs: ReproductionInputs) -> LogisticRegression:
    features = (inputs.code_dir / "features.txt").read_text().split()
    data = inputs.datasets["train"]
    return LogisticRegression(C=inputs.params["C"], random_state=0).fit(data[features], data["y"])


def evaluate(model: Any, data: pd.DataFrame) -> dict[str, float]:
    features = list(model.feature_names_in_)
    return {
        "auc": float(roc_auc_score(data["y"], model.predict_proba(data[features])[:, 1])),
        "accuracy": float(accuracy_score(data["y"], model.predict(data[features]))),
    }


def train_version(reg: ModelRegistry, project: Path, C: float = 1.0) -> str:
    train = reg.snapshot_dataset("customers", frame(1, 300))
    holdout = reg.snapshot_dataset("holdout", frame(2, 100))
    with reg.start_run("churn-training", params={"C": C}, inputs=[train]) as run:
        model = fit(ReproductionInputs(None, {"C": C}, {"train": reg.load_dataset(train)}, project))  # type: ignore[arg-type]
        version = reg.register_model("churn", model, run=run, actor="carol")
    reg.log_metrics(version, evaluate(model, reg.load_dataset(holdout)), dataset=holdout)
    return version.ref


def test_a_version_reproduces_bit_identically(reg: ModelRegistry, project: Path) -> None:
    ref = train_version(reg, project)
    assert reg.lineage(ref).code.dirty is False
    result = reg.reproduce(ref, train=fit, actor="auditor")
    assert result.outcome is ReproductionOutcome.IDENTICAL and result.reproduced
    assert result.artifact_digest == reg.get_version(ref).artifact_digest
    assert result.environment_differences == ()
    assert reg.latest_reproduction(ref) == result
    [event] = reg.audit_log(action="reproduce")
    assert event.actor == "auditor" and event.after["outcome"] == "identical"
    assert "identical at " in reg.model_card(ref) and "by auditor" in reg.model_card(ref)


def test_the_recorded_commit_is_checked_out_when_the_tree_moved_on(
    reg: ModelRegistry, project: Path
) -> None:
    ref = train_version(reg, project)
    recorded = reg.lineage(ref).code.commit
    (project / "features.txt").write_text("x1\n")  # the code changed since
    git(project, "commit", "-q", "-am", "only x1")
    result = reg.reproduce(ref, train=fit)
    # `fit` read features.txt from the recorded commit's worktree, in a child process; its
    # own file is not in that repository, and the result says so.
    assert result.outcome is ReproductionOutcome.IDENTICAL
    assert f"in a child process at commit {recorded[:12]}" in result.detail
    assert "test_reproduce.py, outside the recorded commit" in result.detail
    assert len(git(project, "worktree", "list").splitlines()) == 1  # the worktree is gone
    # Run in the moved-on tree itself, the same function trains another model.
    assert (
        fit(ReproductionInputs(None, {"C": 1.0}, {"train": frame(1, 300)}, project)).n_features_in_
        == 1
    )  # type: ignore[arg-type]

    def local_fit(inputs: ReproductionInputs) -> LogisticRegression:
        return fit(inputs)

    with pytest.raises(errors.ReproductionRefusedError, match="cannot be imported by name"):
        reg.reproduce(ref, train=local_fit)
    assert len(reg.audit_log(action="reproduce")) == 1  # the refusal recorded nothing


def test_a_changed_param_is_reported_as_metric_differences(
    reg: ModelRegistry, project: Path
) -> None:
    ref = train_version(reg, project)

    def fit_with_other_c(inputs: ReproductionInputs) -> LogisticRegression:
        return fit(
            ReproductionInputs(inputs.version, {"C": 0.001}, inputs.datasets, inputs.code_dir)
        )

    without = reg.reproduce(ref, train=fit_with_other_c)
    assert without.outcome is ReproductionOutcome.DIFFERENT and "pass evaluate=" in without.detail
    strict = reg.reproduce(ref, train=fit_with_other_c, evaluate=evaluate, tolerance=0.0)
    assert strict.outcome is ReproductionOutcome.DIFFERENT
    assert set(strict.metric_differences) == {"holdout:auc", "holdout:accuracy"}
    assert any(d != 0 for d in strict.metric_differences.values())
    loose = reg.reproduce(ref, train=fit_with_other_c, evaluate=evaluate, tolerance=1.0)
    assert loose.outcome is ReproductionOutcome.WITHIN_TOLERANCE
    assert reg.latest_reproduction(ref).outcome is ReproductionOutcome.WITHIN_TOLERANCE


def test_a_different_package_version_is_listed(
    reg: ModelRegistry, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = train_version(reg, project)
    installed = environment.installed_packages()
    changed = tuple(
        "scikit-learn==0.0.1" if line.startswith("scikit-learn==") else line for line in installed
    )
    monkeypatch.setattr(environment, "installed_packages", lambda: (*changed, "extra-thing==1.0"))
    result = reg.reproduce(ref, train=fit)
    assert result.outcome is ReproductionOutcome.IDENTICAL
    was = next(line for line in installed if line.startswith("scikit-learn=="))
    assert result.environment_differences == (
        "package extra-thing 1.0 was not installed",
        f"package scikit-learn {was.split('==')[1]} -> 0.0.1",
    )
    assert "environment: 2 difference(s)" in result.detail


def test_a_deleted_input_is_refused_naming_the_tombstone(reg: ModelRegistry, project: Path) -> None:
    ref = train_version(reg, project)
    [customers] = reg.datasets("customers")
    reg.delete_dataset(customers, actor="dpo", reason="GDPR request 17", force=True)
    with pytest.raises(errors.ReproductionRefusedError) as refused:
        reg.reproduce(ref, train=fit)
    message = str(refused.value)
    assert f"customers ({customers.id}, sha256 {customers.digest})" in message
    assert "by dpo: GDPR request 17" in message
    assert reg.latest_reproduction(ref) is None and not reg.audit_log(action="reproduce")


def test_a_dirty_tree_or_unknown_commit_is_refused(
    reg: ModelRegistry, project: Path, tmp_path: Path
) -> None:
    clean = train_version(reg, project)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    with pytest.raises(errors.ReproductionRefusedError, match="is unknown in"):
        reg.reproduce(clean, train=fit, repo=other)
    (project / "scratch.py").write_text("print('not committed')\n")
    environment._recent_captures.clear()  # runs started seconds apart share a capture
    dirty = train_version(reg, project, C=2.0)
    assert reg.lineage(dirty).code.dirty is True
    with pytest.raises(errors.ReproductionRefusedError, match="dirty tree"):
        reg.reproduce(dirty, train=fit)
    unrun = reg.register_model("churn", [1])
    with pytest.raises(errors.ReproductionRefusedError, match="without a training run"):
        reg.reproduce(unrun, train=fit)
    with pytest.raises(errors.InvalidInputError, match="tolerance"):
        reg.reproduce(clean, train=fit, tolerance=-1)


def test_registry_reproduce_and_show(reg: ModelRegistry, project: Path) -> None:
    from click.testing import CliRunner

    from registry_project.cli import cli

    ref = train_version(reg, project)
    base = ["--database-url", f"sqlite:///{project / 'registry' / 'r.db'}"]
    base += ["--artifact-root", "registry/art", "--actor", "auditor"]
    runner = CliRunner()
    before = runner.invoke(cli, [*base, "show", ref])
    assert "never (registry reproduce REF)" in before.output
    train = "registry_project_tests.core.test_reproduce:fit"
    done = runner.invoke(cli, [*base, "reproduce", ref, "--train", train])
    assert done.exit_code == 0, done.output
    assert f"{ref}: identical" in done.output and "by auditor" in done.output
    shown = runner.invoke(cli, [*base, "show", ref])
    assert "identical" in shown.output and "bit-identical artifact" in shown.output
    assert "reproduced identical" in runner.invoke(cli, [*base, "lineage", ref]).output
    bad = runner.invoke(cli, [*base, "reproduce", ref, "--train", "nowhere"])
    assert bad.exit_code == 1 and "is not MODULE:FUNCTION" in bad.output
    [customers] = reg.datasets("customers")
    reg.delete_dataset(customers, actor="dpo", reason="GDPR request 17", force=True)
    refused = runner.invoke(cli, [*base, "reproduce", ref, "--train", train])
    assert refused.exit_code == 1 and "GDPR request 17" in refused.output
    assert "Traceback" not in refused.output
