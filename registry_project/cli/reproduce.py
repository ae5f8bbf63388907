"""`reproduce`: rebuild a version from its record and say how close it came."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.lineage import reproduction_text
from registry_project.cli.output import clean, console, emit_json
from registry_project.core.validation.limits import DEFAULT_TOLERANCE


@click.command(short_help="Retrain a version from its record: bit-identical, or how close.")
@click.argument("reference", metavar="REF")
@click.option(
    "--train",
    "train_path",
    required=True,
    metavar="MODULE:FUNCTION",
    help="The training function, called with the recorded inputs (ReproductionInputs); "
    "imported from the recorded commit (a child process) when the working tree differs.",
)
@click.option(
    "--evaluate",
    "evaluate_path",
    metavar="MODULE:FUNCTION",
    help="evaluate(model, DataFrame) -> metrics, run on each recorded evaluation dataset "
    "when the artifact is not bit-identical.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Largest metric difference that still counts as reproduced.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="The git repository the version was trained in [default: the current directory].",
)
@json_option
@pass_state
@handles_errors
def reproduce(
    state: CliState,
    reference: str,
    train_path: str,
    evaluate_path: str | None,
    tolerance: float,
    repo: Path | None,
) -> None:
    """Rebuild version REF from its record - the recorded snapshots (by digest), params and
    code commit (checked out into a temporary git worktree when the working tree differs)
    - with the training function, and report: a bit-identical artifact, or the metric
    differences on the recorded evaluation datasets. Every difference between the recorded
    environment and this one (Python, platform, packages) is listed. The result is
    recorded on the version (audited). Refused, exit 1, when the record cannot be rebuilt:
    deleted input data (the tombstone is named), no commit, a dirty or unknown commit.
    Exit 1 too when the version did not reproduce.

    \b
    Example:
      registry reproduce churn/7 --train registry_project.pipelines.churn:reproduce_logistic
    """
    # Here, not at the top: core.reproduce loads the store (and SQLAlchemy).
    from registry_project.core.reproduce import load_function, parse_function_path

    # By name: imported where it trains (the recorded commit's worktree when the working
    # tree differs), so a module that moved or changed since is the recorded one.
    parse_function_path(train_path)
    evaluate = load_function(evaluate_path) if evaluate_path else None
    result = state.registry().reproduce(
        reference,
        train=train_path,
        evaluate=evaluate,
        tolerance=tolerance,
        repo=repo,
        actor=state.who(),
    )
    if state.json:
        emit_json(result)
    else:
        out = console()
        out.print(Text(f"{clean(reference)}: ").append_text(reproduction_text(result)))
        for difference in result.environment_differences:
            out.print(Text(f"  environment: {clean(difference)}"))
        for key, delta in sorted(result.metric_differences.items()):
            out.print(Text(f"  metric {clean(key)}: {delta:+.6g}"))
    if not result.reproduced:
        raise SystemExit(1)


def register(group: RegistryGroup) -> None:
    group.add_section("Reproduction", reproduce)
