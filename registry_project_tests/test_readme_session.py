"""The README's "A session" runs as printed: its fill_demo.py, then its commands.

The code block is executed as `fill_demo.py` and every `$ ` line of the transcript is run
in a fresh directory, with the environment the transcript exports. What the README quotes
must be what the commands print: each `error: ...` line, each plain (non-table) output
line and each `[exit status N]`, with ids and times normalised (they differ per run).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry_project import ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = Path(sys.executable).parent / "registry"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")
TABLE_CHARACTERS = set("│┃━─└┌┏┡├┐┓┘┛┗╇")


@dataclass(frozen=True)
class Step:
    command: str
    output: tuple[str, ...]

    @property
    def exit_status(self) -> int:
        for line in self.output:
            if match := re.fullmatch(r"\[exit status (\d+)\]", line):
                return int(match[1])
        return 0

    @property
    def quoted_lines(self) -> list[str]:
        """The output lines the README quotes verbatim: error lines always, every line of
        an output that is neither a table, a tree nor JSON."""
        printed = [line for line in self.output if not line.startswith("[exit status")]
        errors = [line for line in printed if line.startswith("error: ")]
        is_plain = not any(set(line) & TABLE_CHARACTERS for line in printed) and not (
            printed and printed[0].startswith(("{", "["))
        )
        return printed if is_plain else errors


def session_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("### A session")
    return text[start : text.index("\n### ", start + 1)]


def fenced_block(section: str, language: str) -> str:
    start = section.index(f"```{language}\n") + len(language) + 4
    return section[start : section.index("\n```", start)]


def transcript(section: str) -> list[Step]:
    steps: list[Step] = []
    for line in fenced_block(section, "console").splitlines():
        if line.startswith("$ "):
            steps.append(Step(line[2:], ()))
        elif steps and line.strip():
            steps[-1] = Step(steps[-1].command, (*steps[-1].output, line.rstrip()))
    return steps


def normalised(line: str) -> str:
    return " ".join(TIMESTAMP.sub("<time>", UUID.sub("<id>", line)).split())


@pytest.mark.slow
def test_the_readme_session_runs_as_printed(tmp_path: Path) -> None:
    section = session_section()
    (tmp_path / "fill_demo.py").write_text(fenced_block(section, "python"))
    (tmp_path / ".registry").mkdir()  # the Dagster demo's registry: the session must not use it
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["PWD"] = str(tmp_path)
    steps = transcript(section)
    assert [s.command for s in steps[:3]] == [
        "export REGISTRY_DATABASE_URL=sqlite:///$PWD/session/registry.db",
        "export REGISTRY_ARTIFACT_ROOT=$PWD/session/artifacts",
        "python fill_demo.py",
    ]
    customers_id: str | None = None
    checked: list[str] = []
    for step in steps:
        words = shlex.split(step.command, comments=True)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value.replace("$PWD", str(tmp_path))
            continue
        if words[0] == "python":
            words[0] = sys.executable
        else:
            assert words[0] == "registry", step.command
            words[0] = str(REGISTRY)
            if customers_id is None:
                with ModelRegistry.open(
                    env["REGISTRY_DATABASE_URL"], env["REGISTRY_ARTIFACT_ROOT"], create=False
                ) as reg:
                    customers_id = reg.datasets("customers")[0].id
            # "delete-dataset takes the customers id that your registry datasets printed"
            words = [customers_id if UUID.fullmatch(w) else w for w in words]
        done = subprocess.run(
            words, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
        )
        assert done.returncode == step.exit_status, (step.command, done.stderr)
        assert "Traceback" not in done.stderr, (step.command, done.stderr)
        printed = {normalised(line) for line in (done.stdout + done.stderr).splitlines()}
        for quoted in step.quoted_lines:
            assert normalised(quoted) in printed, (step.command, quoted, done.stdout, done.stderr)
            checked.append(quoted)
    assert any("error: production of 'churn' changed" in line for line in checked)
    assert any(line.startswith("promoted churn/2") for line in checked)
    assert len(checked) >= 10, checked
    assert list((tmp_path / ".registry").iterdir()) == []
    assert (tmp_path / "session" / "registry.db").is_file()
