"""The `registry` command: inspect, compare, promote and govern the model registry.

A thin layer: every command calls one public method of `ModelRegistry` and formats the
result, as a rich table or tree for people, or as JSON with `--json` for scripts.
"""

from __future__ import annotations

from typing import cast

from registry_project.cli import (
    data,
    db,
    evidence,
    governance,
    inspect,
    integrity,
    interop,
    reproduce,
    retention,
    search,
    stages,
    tracking,
    ui_command,
)
from registry_project.cli.app import RegistryGroup, cli

# The order here is the order of `registry --help`.
for module in (
    inspect,
    tracking,
    search,
    tracking,
    stages,
    governance,
    data,
    retention,
    integrity,
    evidence,
    reproduce,
    interop,
    db,
    ui_command,
):
    module.register(cast(RegistryGroup, cli))


def main() -> None:
    cli(prog_name="registry")


__all__ = ["cli", "main"]
