"""Proof for auditors: `card` and `evidence` (export a pack, verify one offline)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.text import Text

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    fail,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import clean, console, emit_json, when
from registry_project.core.errors import InvalidInputError

if TYPE_CHECKING:
    from registry_project.core.evidence import EvidenceReport

# The core modules behind these commands (anchors, evidence, model_card: the store and
# SQLAlchemy) are imported inside them, so that `registry --help` does not load them.


class Anchor(click.ParamType):
    """SEQ:HASH, an audit head published outside the registry database."""

    name = "SEQ:HASH"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, str]:
        if isinstance(value, tuple):
            return value  # type: ignore[return-value]
        from registry_project.core.anchors import parse_anchor

        try:
            return parse_anchor(str(value))
        except InvalidInputError as exc:
            self.fail(str(exc), param, ctx)


@click.command(short_help="A version's model card, as Markdown.")
@click.argument("reference", metavar="REF")
@pass_state
@handles_errors
def card(state: CliState, reference: str) -> None:
    """Print a version's model card as Markdown: data (digests, rows, schema), params,
    metrics per dataset against production, stage history, approvals, reproduction.

    \b
    Example:
      registry card churn@production > card.md
    """
    click.echo(state.registry().model_card(reference), nl=False)


def _field(value: str | None, clear: bool, option: str) -> str | None:
    """The new value of one card field: the text given, None to clear it, else KEEP."""
    from registry_project.core.model_card import KEEP

    if clear and value is not None:
        raise click.UsageError(f"give --{option} TEXT or --clear-{option}, not both")
    return None if clear else (value if value is not None else KEEP)


@click.command("card-text", short_help="Set (or show) the owners' text of a model's card.")
@click.argument("name")
@click.option("--intended-use", metavar="TEXT", help="What the model is for, and for whom.")
@click.option("--limitations", metavar="TEXT", help="Where it must not be used, known gaps.")
@click.option("--clear-intended-use", is_flag=True, help="Remove the intended use.")
@click.option("--clear-limitations", is_flag=True, help="Remove the limitations.")
@click.option("--reason", metavar="TEXT", help="Why the text changes (in the audit log).")
@json_option
@pass_state
@handles_errors
def card_text(
    state: CliState,
    name: str,
    intended_use: str | None,
    limitations: str | None,
    clear_intended_use: bool,
    clear_limitations: bool,
    reason: str | None,
) -> None:
    """Set the free text the owners of model NAME write on every version's model card:
    its intended use and its limitations (a field left out is kept). The change is
    audited: who, when, the text before and after, the reason. With no option, show the
    current text.

    \b
    Examples:
      registry card-text churn --intended-use "Rank retention offers" \\
          --limitations "Not for credit decisions" --reason "reviewed by legal"
      registry card-text churn --clear-limitations --reason "covered by the new policy"
    """
    from registry_project.core.model_card import KEEP

    use = _field(intended_use, clear_intended_use, "intended-use")
    limits = _field(limitations, clear_limitations, "limitations")
    registry = state.registry()
    if use is KEEP and limits is KEEP:
        if reason is not None:
            fail("--reason goes with a change: give --intended-use or --limitations too")
        current = registry.model_card_text(name)
        if current is None:
            registry.get_version(f"{name}@latest")  # a clear error for an unknown model
    else:
        current = registry.set_model_card_text(
            name, intended_use=use, limitations=limits, actor=state.who(), reason=reason
        )
    if state.json:
        emit_json(current)
        return
    out = console()
    if current is None:
        out.print(f"{clean(name)}: no card text yet (set it with --intended-use, --limitations)")
        return
    out.print(
        f"{clean(name)}'s card text, by {clean(current.updated_by)} at {when(current.updated_at)}"
    )
    out.print(Text(f"  intended use: {clean(current.intended_use or '(none)')}"))
    out.print(Text(f"  limitations:  {clean(current.limitations or '(none)')}"))


def _print_report(report: EvidenceReport) -> None:
    out = console()
    head = f"#{report.audit_head[0]} {report.audit_head[1]}" if report.audit_head else "unreadable"
    out.print(
        f"evidence pack of {clean(report.version)}: {report.events_checked} audit events "
        f"checked, audit head {head}"
    )
    for problem in report.problems:
        line = Text(problem.kind, style="red")
        line.append(f" {clean(problem.subject)}: {clean(problem.detail)}")
        out.print(line)
    out.print(
        Text("ok", style="green")
        if report.ok
        else Text(f"{len(report.problems)} problem(s)", style="red")
    )


@click.command(short_help="Export a version's evidence pack, or verify one offline.")
@click.argument("target", metavar="REF | verify")
@click.argument("pack", metavar="[FILE]", required=False, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Where to write the pack (a zip)."
)
@click.option(
    "--anchor",
    "anchors",
    type=Anchor(),
    multiple=True,
    help="With verify: an audit head published elsewhere, SEQ:HASH (repeatable).",
)
@json_option
@click.pass_context
@handles_errors
def evidence(
    ctx: click.Context,
    target: str,
    pack: Path | None,
    output: Path | None,
    anchors: tuple[tuple[int, str], ...],
) -> None:
    """`registry evidence REF -o FILE` writes the evidence pack of a version: its model
    card, its record as JSON (lineage, stage history, approvals) and the segment of the
    audit hash chain that covers them, ending at the audit head.

    `registry evidence verify FILE` checks a pack offline - it opens no registry - and
    names every edited, removed or reordered entry; exit status 1 when there is one.

    \b
    Examples:
      registry evidence churn@production -o churn-evidence.zip
      registry evidence verify churn-evidence.zip --anchor 42:9f86d08…
    """
    state = ctx.find_object(CliState)
    assert state is not None
    if target == "verify":
        if pack is None or output is not None:
            raise click.UsageError("give the pack to check: registry evidence verify FILE")
        from registry_project.core.evidence import verify_pack

        report = verify_pack(pack, anchors=anchors)
        if state.json:
            emit_json(report)
        else:
            _print_report(report)
        if not report.ok:
            raise SystemExit(1)
        return
    if pack is not None or output is None:
        raise click.UsageError("give the file to write: registry evidence REF -o FILE")
    if anchors:
        fail("--anchor checks a pack: use it with `registry evidence verify FILE`")
    seq, digest = state.registry().export_evidence(target, output, actor=state.who())
    if state.json:
        emit_json({"path": str(output), "audit_head": {"seq": seq, "hash": digest}})
    else:
        console().print(
            f"wrote {clean(output)}: evidence of {clean(target)}, audit head #{seq} {digest}"
        )


def register(group: RegistryGroup) -> None:
    group.add_section("Evidence", card, card_text, evidence)
