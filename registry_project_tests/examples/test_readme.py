"""The README cannot drift from the code: its walk-through blocks are the example's files,
its metadata table is the module's constants, and its links stay inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from registry_project.orchestration.metadata import METADATA_KEYS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
INCLUDED = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\n```python\n(?P<body>.*?)\n```", re.S)
WALK_THROUGH = {
    "examples/breast_cancer/data.py",
    "examples/breast_cancer/model.py",
    "examples/breast_cancer/definitions.py",
    "registry_project_tests/examples/test_breast_cancer.py",
    "examples/tracking/sweep.py",
}


def test_walk_through_blocks_equal_the_files_the_tests_run() -> None:
    blocks = {m["path"]: m["body"] for m in INCLUDED.finditer(README)}
    assert set(blocks) == WALK_THROUGH
    for path, body in blocks.items():
        assert body == (ROOT / path).read_text().rstrip(), f"README block differs from {path}"


def test_metadata_table_lists_every_public_key() -> None:
    section = README.split("### Metadata keys", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, re.M))
    assert rows == METADATA_KEYS


def test_links_point_inside_the_repository() -> None:
    targets = re.findall(r"\]\(([^)]+)\)", README)
    assert targets
    for target in targets:
        assert "://" not in target and not target.startswith(("/", "..")), target
        assert (ROOT / target.split("#")[0]).exists(), f"README links to missing {target}"


def test_component_yaml_block_is_the_example_projects_defs_yaml() -> None:
    path = "examples/cancer_component/cancer_component/defs/cancer/defs.yaml"
    block = README.split(f"```yaml\n# {path}\n", 1)[1].split("\n```", 1)[0]
    assert block == (ROOT / path).read_text().rstrip()
