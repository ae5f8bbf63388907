"""`registry card` and `registry evidence`: a pack written through the CLI and checked by
a separate `registry` process after the registry (database and blobs) was deleted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from registry_project_tests import test_cli
from registry_project_tests.test_cli import Filled, run, run_json

filled = test_cli.filled  # the same filled registry as the other CLI tests


def _verify_in_a_fresh_process(pack: Path, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, REGISTRY_DATABASE_URL=f"sqlite:///{cwd / 'gone.db'}")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from registry_project.cli import main; main()",
            "evidence",
            "verify",
            str(pack),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_card_prints_markdown(filled: Filled) -> None:
    result = run(filled, "card", "churn/2")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Model card: churn/2\n")
    assert "| holdout | auc | 0.87 | - | - |" in result.output
    assert "| C | 1 |" in result.output


def test_evidence_pack_written_and_verified_with_the_registry_gone(
    filled: Filled, tmp_path: Path
) -> None:
    pack = tmp_path / "out" / "pack.zip"
    pack.parent.mkdir()
    written = run_json(filled, "evidence", "churn@production", "-o", str(pack))
    assert written["audit_head"]["seq"] == run_json(filled, "audit")[-1]["seq"]
    (tmp_path / "registry.db").unlink()
    shutil.rmtree(tmp_path / "artifacts")
    done = _verify_in_a_fresh_process(pack, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout and "evidence pack of churn/1" in done.stdout
    assert not (tmp_path / "out" / "gone.db").exists()  # it opened no registry

    with zipfile.ZipFile(pack) as original:
        files = {name: original.read(name) for name in original.namelist()}
    files["card.md"] = files["card.md"].replace(b"baseline", b"baseljne")
    edited = tmp_path / "out" / "edited.zip"
    with zipfile.ZipFile(edited, "w") as out:
        for name, data in files.items():
            out.writestr(name, data)
    failed = _verify_in_a_fresh_process(edited, tmp_path / "out", "--json")
    assert failed.returncode == 1
    kinds = {problem["kind"] for problem in json.loads(failed.stdout)["problems"]}
    assert kinds == {"card_edited", "pack_file_edited"}


def test_evidence_usage_errors(filled: Filled, tmp_path: Path) -> None:
    assert run(filled, "evidence", "churn/1").exit_code == 2  # no -o
    assert run(filled, "evidence", "verify").exit_code == 2  # no file
    missing = run(filled, "evidence", "verify", str(tmp_path / "nope.zip"))
    assert missing.exit_code == 1 and "no evidence pack at" in missing.output
    bad_anchor = run(filled, "evidence", "verify", str(tmp_path / "x.zip"), "--anchor", "x:y")
    assert bad_anchor.exit_code == 2
