"""The `registry` command: inspect, compare, promote and govern the model registry.

A thin layer: every command calls one public method of `ModelRegistry` and formats the
result, as a rich table or tree for people, or as JSON with `--json` for scripts.
"""

from __future__ import annotations

import gc
from typing import cast

from registry_project.cli.app import RegistryGroup, cli
from registry_project.cli.commands import SECTIONS

# Listed from the table, each command imported from its module when invoked (issue #18).
for title, commands in SECTIONS.items():
    cast(RegistryGroup, cli).add_lazy_section(title, commands)


def main() -> None:
    try:
        cli(prog_name="registry")
    finally:
        # The interpreter's exit runs the cyclic garbage collector over every object still
        # alive: once a command has opened the registry, that is all of SQLAlchemy's, and
        # the collection was ~0.1 s of `registry versions` (issue #18). Everything alive
        # here lives until the exit anyway, so it is moved out of the collector's sight;
        # files and the database are closed by then (click closes the context first).
        gc.freeze()


__all__ = ["cli", "main"]
