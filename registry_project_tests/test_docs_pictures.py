"""pytest leaves the repository's tracked files alone; the docs pictures are refreshed
only by `python -m registry_project_tests.docs_pictures`."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_project_tests import docs_pictures


def test_a_screenshot_reaches_docs_only_when_refreshing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG picture")
    docs = tmp_path / "docs"
    monkeypatch.delenv(docs_pictures.UPDATE_ENV, raising=False)
    monkeypatch.setenv("CI", "")  # not being in CI is no longer a reason to write
    assert not docs_pictures.publish(shot, "compare.png", docs)
    assert not docs.exists()
    monkeypatch.setenv(docs_pictures.UPDATE_ENV, "1")
    assert docs_pictures.publish(shot, "compare.png", docs)
    assert (docs / "compare.png").read_bytes() == shot.read_bytes()


def test_the_picture_tests_exist_and_write_through_publish() -> None:
    """The command runs exactly the tests that take the pictures; each of them hands its
    screenshot to `publish` instead of writing into docs/ itself."""
    for test in docs_pictures.PICTURE_TESTS:
        path, _, name = test.partition("::")
        source = (docs_pictures.ROOT / path).read_text()
        body = source[source.index(f"def {name}(") :]
        body = body[: body.find("\ndef ", 1) if "\ndef " in body[1:] else len(body)]
        assert "publish(" in body and '/ "docs"' not in source
