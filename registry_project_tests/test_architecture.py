"""docs/ARCHITECTURE.md held to the code: the import rule between layers, a description of
every module, and a README that links only inside the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "registry_project"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
README = ROOT / "README.md"

# layer -> the layers it may import (docs/ARCHITECTURE.md, "Layers and the import rule")
MAY_IMPORT = {
    "core": {"core"},
    "ui": {"ui", "core"},
    "cli": {"cli", "ui", "core"},
    # pipes.py is the protocol shared with an external training process: orchestration
    # reads its message keys, and it imports only the core.
    "orchestration": {"orchestration", "core", "pipes"},
    "pipelines": {"pipelines", "orchestration", "core"},
    "definitions": {"pipelines", "orchestration", "core"},
    "components": {"components", "orchestration", "core"},
    "pipes": {"core"},
    "__init__": {"core"},
}
# Frameworks of the upper layers, which the core must never need.
NOT_IN_CORE = {"dagster", "dagster_aws", "dagster_webserver", "click", "rich", "starlette"}
NOT_IN_CORE |= {"jinja2", "markupsafe"}
# Inside the core, the store sits below the facade and the byte-handling modules.
NOT_IN_STORE = {"registry", "active_run", "ops", "blobs", "flavors", "parquet", "environment"}
NOT_IN_STORE |= {"facade"}  # the facade's parts (core/facade/)


def _modules() -> list[Path]:
    # Migrations and scaffolding templates (files `dg scaffold` copies) are not modules.
    skipped = {"migrations", "templates"}
    return sorted(p for p in PACKAGE.rglob("*.py") if not skipped & set(p.parts))


def _layer(path: Path) -> str:
    part = path.relative_to(PACKAGE).parts[0]
    return part.removesuffix(".py")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            if node.module == "registry_project.core":  # from registry_project.core import x
                names += [f"registry_project.core.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_run_down_the_layers(path: Path) -> None:
    layer = _layer(path)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "registry_project" and len(parts) > 1:
            assert parts[1] in MAY_IMPORT[layer], f"{layer} must not import {name}"
        if layer == "core":
            assert parts[0] not in NOT_IN_CORE, f"the core must not import {name}"
        in_store = path.relative_to(PACKAGE).parts[:2] == ("core", "store")
        if in_store and name.startswith("registry_project.core."):
            room = parts[2]
            assert room not in NOT_IN_STORE, f"the store must not import {name}"


# Optional extras the core uses only inside the functions that need them, so that importing
# the core (a serving process, the CLI) never needs them installed.
LAZY_IN_CORE = {"mlflow"}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_optional_extras_are_imported_only_when_used(path: Path) -> None:
    if _layer(path) != "core":
        return
    tree = ast.parse(path.read_text())
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    for node in top_level:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        for name in names:
            assert (name or "").split(".")[0] not in LAZY_IN_CORE, (
                f"{path.name} imports {name} at import time; import it inside the function "
                "that needs it (the `mlflow` extra is optional)"
            )


def _sections(text: str) -> dict[str, str]:
    """Each "### heading" of the document -> its body."""
    parts = re.split(r"^### (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_module_is_described_in_the_architecture_document() -> None:
    sections = _sections(ARCHITECTURE.read_text())
    missing = []
    for path in _modules():
        relative = path.relative_to(PACKAGE)
        if path.name == "__init__.py":
            continue
        # a package's modules in the table under its "### `registry_project/<package>/`"
        # heading; a top-level module under a heading that names it
        if len(relative.parts) > 1:
            key = f"`registry_project/{relative.parent}/`"
        else:
            key = f"`{relative.name}`"
        body = next((body for heading, body in sections.items() if key in heading), None)
        if body is None or f"`{relative.name}`" not in body:
            missing.append(str(relative))
    assert not missing, "docs/ARCHITECTURE.md, under The rooms, does not describe: " + ", ".join(
        missing
    )


def test_the_readme_links_only_inside_the_repository() -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    assert "docs/ARCHITECTURE.md" in targets
    for target in targets:
        resolved = (ROOT / target.split("#")[0]).resolve()
        assert "://" not in target and resolved.is_relative_to(ROOT), f"README links {target}"
        assert resolved.exists(), f"README links {target}, which does not exist"
