"""`lineage`: where a version came from, as a tree; and its one-line summary for `show`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text
from rich.tree import Tree

from registry_project.cli.app import CliState, handles_errors, json_option, pass_state
from registry_project.cli.output import (
    clean,
    console,
    emit_json,
    short_digest,
    stage_text,
    text,
    when,
)

if TYPE_CHECKING:
    # Records named in annotations only: importing one creates its dataclasses, which
    # `registry --help` does not need (issue #18).
    from registry_project.core.entities import CodeVersion, Lineage, LineageDataset, Reproduction


def params_text(params: Mapping[str, Any]) -> str:
    """`C=1.0, layers=[64, 32]`: values as JSON, so 1.0 stays 1.0 and nested values read."""
    return ", ".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(params.items())
    )


def code_text(code: CodeVersion | None) -> str:
    if code is None or not code.commit:
        return "not recorded (not run from a git checkout)"
    parts = [code.commit, "(dirty)" if code.dirty else "", code.branch or "", code.remote or ""]
    return " ".join(p for p in parts if p)


def _dataset_text(item: LineageDataset) -> Text:
    snap = item.snapshot
    role = f"/{item.role}" if item.role else ""
    rows = f"{snap.row_count:,}" if snap.row_count is not None else "-"
    digest = short_digest(snap.digest) if snap.digest else f"ref {clean(snap.uri)}"
    label = Text()
    if item.deleted:
        label.append("DELETED ", style="bold red")
    label.append(f"{clean(snap.name)} ({item.relation}{role})  {snap.id}  rows={rows}  ")
    label.append(f"sha256:{digest}" if snap.digest else digest)
    if item.deleted:
        label.append(
            f"  deleted {when(snap.deleted_at)} by {clean(snap.deleted_by)}: "
            f"{clean(snap.deletion_reason)}",
            style="red",
        )
    return label


def reproduction_text(found: Reproduction | None) -> Text:
    """The newest reproduction attempt in one line (`registry reproduce` makes them)."""
    if found is None:
        return Text("never (registry reproduce REF)")
    style = "green" if found.reproduced else "red"
    line = Text(found.outcome.value, style=style)
    line.append(f" {when(found.at)} UTC by {clean(found.actor)}: {clean(found.detail)}")
    return line


def lineage_summary(lineage: Lineage) -> list[tuple[str, str | Text]]:
    """The rows `show` prints about lineage: one line each."""
    datasets = Text()
    for index, item in enumerate(lineage.datasets):
        if index:
            datasets.append(", ")
        datasets.append(f"{clean(item.snapshot.name)} ({item.relation}")
        datasets.append(", DELETED" if item.deleted else "", style="bold red")
        datasets.append(")")
    rows: list[tuple[str, str | Text]] = [("datasets", datasets if lineage.datasets else "-")]
    if lineage.run is not None:
        run = lineage.run
        rows.append(("run", text(f"{run.name} {run.id} ({run.status.value})")))
    rows.append(("code", text(code_text(lineage.code))))
    rows.append(("dagster run", text(lineage.dagster_run_id or "-")))
    return rows


def lineage_tree(lineage: Lineage, reproduction: Reproduction | None = None) -> Tree:
    mv = lineage.version
    root = Text(f"{clean(mv.ref)} ", style="bold")
    root.append_text(stage_text(mv.stage.value))
    root.append(f"  sha256:{short_digest(mv.artifact_digest)}  {mv.id}")
    tree = Tree(root)
    data = tree.add("datasets")
    for item in lineage.datasets:
        data.add(_dataset_text(item))
    if not lineage.datasets:
        data.add("none recorded")
    if lineage.run is not None:
        run = lineage.run
        node = tree.add(text(f"run {run.name} {run.id} ({run.status.value}) by {run.created_by}"))
        node.add(text(f"params {params_text(run.params) or '-'}"))
        node.add(f"started {when(run.started_at)} UTC, ended {when(run.ended_at)} UTC")
    tree.add(text(f"code {code_text(lineage.code)}"))
    if lineage.environment is not None:
        env = lineage.environment
        node = tree.add(text(f"environment Python {env.python_version} on {env.platform}"))
        node.add(f"{env.package_count} packages (sha256:{short_digest(env.packages_digest)})")
        for item in env.files:
            node.add(text(f"{item.path} sha256:{short_digest(item.digest)}"))
    tree.add(text(f"dagster run {lineage.dagster_run_id or '-'}"))
    reproduced = tree.add(Text("reproduced ").append_text(reproduction_text(reproduction)))
    for difference in reproduction.environment_differences if reproduction else ():
        reproduced.add(text(difference))
    if lineage.transitions:
        history = tree.add("stage history (UTC)")
        for step in lineage.transitions:
            source = step.from_stage.value if step.from_stage else "new"
            reason = f": {step.reason}" if step.reason else ""
            history.add(
                text(f"{when(step.at)} {source} -> {step.to_stage.value} by {step.actor}{reason}")
            )
    return tree


@click.command(short_help="A version's lineage as a tree: data, run, code, environment.")
@click.argument("ref")
@json_option
@pass_state
@handles_errors
def lineage(state: CliState, ref: str) -> None:
    """Everything version REF came from, as a tree: datasets (digest, rows, deleted?), the
    training run and its params, code commit, environment, Dagster run and stage history.

    \b
    Example:
      registry lineage churn@production
    """
    found = state.registry().lineage(ref)
    if state.json:
        emit_json(found)
        return
    console().print(lineage_tree(found, state.registry().latest_reproduction(found.version)))
