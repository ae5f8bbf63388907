"""The README's "Rules the registry enforces" name the tests that prove them: every rule
names at least one, and every test the README names (there or anywhere else) exists, so
the README cannot point at a renamed or deleted test."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
README = TESTS.parent / "README.md"
RULES_HEADING = "### Rules the registry enforces"
# `core/test_x.py::test_name`, or a shortened `...::test_name_prefix…`.
TEST_REFERENCE = re.compile(r"`((?:\w+/)*test_\w+\.py)::(test_\w+)(…?)`")


def _rules() -> list[tuple[str, str]]:
    """(rule title, rule text) for each bullet of the rules section."""
    text = README.read_text()
    section = text.split(RULES_HEADING, 1)[1].split("\n#", 1)[0]
    bullets = re.split(r"\n(?=- \*\*)", section)
    rules = []
    for bullet in bullets:
        title = re.match(r"- \*\*(.+?)\*\*", bullet.strip())
        if title:
            rules.append((title.group(1), bullet))
    return rules


@cache
def _test_functions(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text())
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    )


def test_the_rules_section_is_found() -> None:
    titles = [title for title, _ in _rules()]
    assert len(titles) >= 8, titles
    assert "Names" in titles and "Integrity" in titles


@pytest.mark.parametrize("rule", [title for title, _ in _rules()])
def test_every_rule_names_a_test(rule: str) -> None:
    [text] = [text for title, text in _rules() if title == rule]
    assert TEST_REFERENCE.search(text), (
        f"the README rule {rule!r} names no test: add `path/test_file.py::test_name` of a test "
        "that fails when the rule is broken"
    )


def _named_tests() -> list[tuple[str, str, bool]]:
    found = TEST_REFERENCE.findall(README.read_text())
    return sorted({(path, name, bool(shortened)) for path, name, shortened in found})


@pytest.mark.parametrize(
    ("path", "name", "shortened"), _named_tests(), ids=lambda value: str(value)
)
def test_every_test_the_readme_names_exists(path: str, name: str, shortened: bool) -> None:
    file = TESTS / path
    assert file.is_file(), f"the README names {path}, which is not under {TESTS.name}/"
    functions = _test_functions(file)
    if shortened:
        assert any(f.startswith(name) for f in functions), f"no test in {path} starts {name}"
    else:
        assert name in functions, f"the README names {path}::{name}, which does not exist"
