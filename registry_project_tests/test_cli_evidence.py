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


def test_card_text_sets_the_owners_text_audited(filled: Filled) -> None:
    empty = run(filled, "card-text", "churn")
    assert empty.exit_code == 0 and "no card text yet" in empty.output
    done = run(
        filled,
        "card-text",
        "churn",
        "--intended-use",
        "Rank retention offers",
        "--limitations",
        "Not for credit decisions",
        "--reason",
        "reviewed by legal",
        actor="ana",
    )
    assert done.exit_code == 0, done.output
    assert "by ana" in done.output and "Not for credit decisions" in done.output
    card = run(filled, "card", "churn/2").output
    assert "Rank retention offers" in card and "Not for credit decisions" in card
    # One field changed, the other kept; then cleared.
    run(filled, "card-text", "churn", "--limitations", "EU customers only", "--reason", "scope")
    shown = run_json(filled, "card-text", "churn")
    assert shown["intended_use"] == "Rank retention offers"
    assert shown["limitations"] == "EU customers only" and shown["updated_by"] == "tester"
    cleared = run(filled, "card-text", "churn", "--clear-limitations", "--reason", "dropped")
    assert cleared.exit_code == 0 and "limitations:  (none)" in cleared.output
    events = run_json(filled, "audit", "--action", "set_card_text")
    reasons = [event["reason"] for event in events]
    assert sorted(reasons) == ["dropped", "reviewed by legal", "scope"]


def test_card_text_refusals_are_one_line(filled: Filled) -> None:
    both = run(filled, "card-text", "churn", "--limitations", "x", "--clear-limitations")
    assert both.exit_code == 2 and "not both" in both.output
    unknown = run(filled, "card-text", "nosuch", "--intended-use", "x")
    assert unknown.exit_code == 1 and "no model named 'nosuch'" in unknown.output
    assert run(filled, "card-text", "nosuch").exit_code == 1
    empty_reason = run(filled, "card-text", "churn", "--intended-use", "x", "--reason", " ")
    assert empty_reason.exit_code == 1 and "reason" in empty_reason.output
    lonely = run(filled, "card-text", "churn", "--reason", "why")
    assert lonely.exit_code == 1 and "--reason goes with a change" in lonely.output
    assert "Traceback" not in unknown.output + empty_reason.output
    shown = run_json(filled, "card-text", "churn")
    assert shown is None  # nothing was written by the refusals


def test_show_and_versions_flag_a_version_trained_on_deleted_data(filled: Filled) -> None:
    assert "data that was deleted" not in run(filled, "show", "churn@production").output
    deleted = run(
        filled, "delete-dataset", filled.train_id, "--force", "--reason", "GDPR request 17"
    )
    assert deleted.exit_code == 0, deleted.output
    shown = run(filled, "show", "churn@production").output
    assert "trained or evaluated on data that was deleted" in shown
    assert "(data deleted)" in run(filled, "versions", "churn").output
