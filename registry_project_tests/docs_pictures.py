"""Refresh the README's pictures: `python -m registry_project_tests.docs_pictures`.

`pytest` never writes into the repository: the tests that take the pictures (the
Dagster asset graph, the UI's comparison page, a run page with its loss curve) save their
screenshots under their own temporary directory, and copy them to docs/ only when
REGISTRY_UPDATE_DOCS=1, which this command sets before running just those tests.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

UPDATE_ENV = "REGISTRY_UPDATE_DOCS"
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PICTURE_TESTS = (
    "registry_project_tests/orchestration/test_dagster_services.py"
    "::test_webserver_serves_the_lineage_graph",
    "registry_project_tests/ui/test_browser.py::test_tick_two_versions_and_compare_them",
    "registry_project_tests/ui/test_browser.py"
    "::test_a_ten_thousand_step_loss_curve_is_drawn_on_the_run_page",
)


def updating_docs() -> bool:
    return os.environ.get(UPDATE_ENV) == "1"


def publish(screenshot: Path, name: str, docs: Path = DOCS) -> bool:
    """Copy a test's screenshot to docs/`name` when the docs are being refreshed; returns
    whether it did."""
    if not updating_docs():
        return False
    docs.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, docs / name)
    return True


def main() -> int:
    import pytest

    os.environ[UPDATE_ENV] = "1"
    return int(
        pytest.main(["-q", "-p", "no:cacheprovider", *(str(ROOT / t) for t in PICTURE_TESTS)])
    )


if __name__ == "__main__":
    sys.exit(main())
