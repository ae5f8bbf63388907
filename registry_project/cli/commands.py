"""Every command of `registry`: its section in `--help`, the module that defines it, and its
short help, so that the group can list them all without importing a single command module.

A command module imports rich and its share of the core when it is loaded; loading all of
them was most of `registry --help` and a third of `registry versions` (issue #18). The
group (app.RegistryGroup) imports a command's module only when that command is invoked.
`test_cli_startup` holds this table equal to the commands themselves: their names, their
modules' `register` sections, and their short help.
"""

from __future__ import annotations

from typing import NamedTuple


class LazyCommand(NamedTuple):
    name: str
    module: str  # registry_project.cli.<module>
    attribute: str  # the click command object in that module
    short_help: str  # the command's short_help, as `--help` shows it


def _in(module: str, *rows: tuple[str, str, str]) -> list[LazyCommand]:
    return [
        LazyCommand(name, f"registry_project.cli.{module}", attr, doc) for name, attr, doc in rows
    ]


# In the order of `registry --help`: sections, and the commands within each.
SECTIONS: dict[str, list[LazyCommand]] = {
    "Models and versions": [
        *_in(
            "inspect",
            ("models", "models", "Each model: latest and production version, key metric."),
            ("versions", "versions", "A model's versions, filtered and ordered."),
            ("show", "show", "One version: stage, metrics, params, artifact, lineage."),
            (
                "compare",
                "compare",
                "Versions side by side, differences marked, delta to production.",
            ),
        ),
        *_in(
            "lineage",
            ("lineage", "lineage", "A version's lineage as a tree: data, run, code, environment."),
        ),
        *_in(
            "inspect",
            ("download", "download", "Write a version's artifact to a file, digest-verified."),
        ),
    ],
    "Experiment tracking": _in(
        "tracking",
        ("runs", "runs", "Runs of an experiment, filtered and ordered."),
        ("run", "run", "One run: params, tags, latest metrics, artifacts."),
        ("compare-runs", "compare_runs", "Runs side by side, differences marked."),
        ("download-artifact", "download_artifact", "Write a run's artifact to a file, verified."),
    ),
    "Search": _in(
        "search",
        ("search", "search", "Versions across models that match a filter."),
    ),
    "Stages": _in(
        "stages",
        ("promote", "promote", "Make a version production; the previous one is archived."),
        ("transition", "transition", "Move a version to another stage."),
        ("rollback", "rollback", "Re-promote the previous production version."),
        ("approve", "approve", "Approve a version (four-eyes: not its registrant)."),
    ),
    "Governance": _in(
        "governance",
        (
            "protect",
            "protect",
            "Store a model's protection rule: approvals needed to enter a stage.",
        ),
        ("alias", "alias", "Named pointers to versions: set, remove, history."),
        ("tag", "tag", "Labels on models and versions: set, remove."),
    ),
    "Datasets": _in(
        "data",
        ("datasets", "datasets", "Dataset snapshots and references, tombstones included."),
        ("dependents", "dependents", "Model versions trained or evaluated on a snapshot."),
        ("delete-dataset", "delete_dataset", "Delete a snapshot, keeping a tombstone."),
    ),
    "Retention": _in(
        "retention",
        ("retention", "retention", "Retention policies: set, show, apply."),
    ),
    "Audit and integrity": _in(
        "integrity",
        ("audit", "audit", "The audit log: who did what, when and why."),
        ("verify", "verify", "Check every blob's digest and the audit chain; exit 1 on a problem."),
        ("gc", "gc", "Find (and with --apply delete) unreferenced blobs."),
    ),
    "Evidence": _in(
        "evidence",
        ("card", "card", "A version's model card, as Markdown."),
        ("card-text", "card_text", "Set (or show) the owners' text of a model's card."),
        ("evidence", "evidence", "Export a version's evidence pack, or verify one offline."),
    ),
    "Reproduction": _in(
        "reproduce",
        (
            "reproduce",
            "reproduce",
            "Retrain a version from its record: bit-identical, or how close.",
        ),
    ),
    "Interoperability": _in(
        "interop",
        ("import", "import_group", "Move another registry in (MLflow)."),
        ("export", "export", "Write a version for serving (an MLflow model directory)."),
    ),
    "Schema": _in(
        "db",
        ("db", "db", "Schema migrations of the metadata database."),
    ),
    "Web UI": _in(
        "ui_command",
        ("ui", "ui", "Serve the read-only web UI (models, compare, lineage, audit)."),
    ),
}
