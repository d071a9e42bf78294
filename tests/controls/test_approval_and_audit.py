"""Approvals refuse unapproved runs before the first activity; the audit log detects tampering."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from chaosllm.cli import main as chaosllm_main
from chaosllm.controls.approval import sign_approval
from tests.chaos_run import CHAOSLLM, chaos_env, run_experiment

# These tests run `chaos run` as a subprocess.
pytestmark = pytest.mark.integration

KEY = "approval-key-for-tests"


def _experiment(workdir: Path, approval: Path) -> dict[str, Any]:
    marker = workdir / "ran"
    return {
        "title": "production change", "description": "needs an approval",
        "configuration": {"environment": "production"},
        "method": [{"type": "action", "name": "touch-marker",
                    "provider": {"type": "process", "path": "touch", "arguments": str(marker)}}],
        "rollbacks": [{"type": "action", "name": "noop",
                       "provider": {"type": "process", "path": "true"}}],
        "controls": [
            {"name": "chaosllm-approval",
             "provider": {"type": "python", "module": "chaosllm.controls.approval",
                          "arguments": {"approval_file": str(approval)}}},
            {"name": "chaosllm-audit",
             "provider": {"type": "python", "module": "chaosllm.controls.audit",
                          "arguments": {"path": str(workdir / "audit.jsonl")}}},
        ],
    }  # fmt: skip


def _approve(experiment: dict[str, Any], path: Path, key: str = KEY, hours: float = 1) -> None:
    expires = datetime.now(timezone.utc) + timedelta(hours=hours)
    path.write_text(json.dumps(sign_approval(experiment, "alice", "production", expires, key)))


def _run(experiment: dict[str, Any], workdir: Path) -> tuple[Any, dict[str, Any]]:
    return run_experiment(experiment, workdir, env={"CHAOSLLM_APPROVAL_KEY": KEY})


def _approval_entry(journal: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in journal.get("extensions", []) if e["name"] == "chaosllm-approval")


def test_a_valid_approval_lets_the_experiment_run_and_the_audit_chain_verifies(
    tmp_path: Path,
) -> None:
    approval = tmp_path / "approval.json"
    experiment = _experiment(tmp_path, approval)
    _approve(experiment, approval)
    proc, journal = _run(experiment, tmp_path)
    assert journal["status"] == "completed", proc.stderr
    assert (tmp_path / "ran").exists()
    entry = _approval_entry(journal)
    assert entry["approved"] is True and entry["approver"] == "alice"

    log = tmp_path / "audit.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in entries] == [
        "experiment-start", "activity", "activity", "experiment-end"]
    assert entries[1]["activity"] == {"name": "touch-marker", "type": "action",
                                      "phase": "method", "provider": "process:touch"}
    assert entries[1]["outcome"] == "succeeded" and entries[2]["activity"]["phase"] == "rollback"
    assert entries[3]["outcome"] == "completed"
    assert all(e["user"] and e["host"] and e["experiment"]["digest"].startswith("sha256:")
               for e in entries)  # fmt: skip
    # keyed with the approval key (no CHAOSLLM_AUDIT_KEY): proven with it, unproven without
    assert all(e["chain"] == "hmac-sha256" for e in entries)
    verified = subprocess.run([*CHAOSLLM, "audit", "verify", str(log)], capture_output=True,
                              text=True, env=chaos_env({"CHAOSLLM_APPROVAL_KEY": KEY}))  # fmt: skip
    assert verified.returncode == 0 and "4 entries, keyed chain intact" in verified.stdout
    unproven = subprocess.run([*CHAOSLLM, "audit", "verify", str(log)], capture_output=True,
                              text=True, env={**chaos_env(), "CHAOSLLM_APPROVAL_KEY": ""})  # fmt: skip
    assert unproven.returncode == 3 and "UNPROVEN" in unproven.stdout


@pytest.mark.parametrize(
    "case, reason",
    [
        ("missing", "cannot read approval"),
        ("expired", "expired at"),
        ("wrong-digest", "is for another experiment or another configuration"),
        ("bad-signature", "bad signature"),
    ],
)
def test_unapproved_runs_are_refused_before_the_first_activity(
    tmp_path: Path, case: str, reason: str
) -> None:
    approval = tmp_path / "approval.json"
    experiment = _experiment(tmp_path, approval)
    if case == "expired":
        _approve(experiment, approval, hours=-1)
    elif case == "wrong-digest":
        _approve({**experiment, "title": "another experiment"}, approval)
    elif case == "bad-signature":
        _approve(experiment, approval, key="someone-elses-key")
    proc, journal = _run(experiment, tmp_path)
    assert journal["status"] == "interrupted", proc.stderr
    assert journal["run"] == [] and not (tmp_path / "ran").exists()
    entry = _approval_entry(journal)
    assert entry["approved"] is False and reason in entry["reason"]
    assert reason in proc.stderr


def test_an_unprotected_environment_needs_no_approval(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path, tmp_path / "absent.json")
    experiment["configuration"]["environment"] = "staging"
    proc, journal = _run(experiment, tmp_path)
    assert journal["status"] == "completed", proc.stderr
    assert _approval_entry(journal)["protected"] is False


def _write_chain(path: Path, count: int) -> list[bytes]:
    from chaosllm.controls.audit import append_entry

    for i in range(count):
        append_entry(path, {"event": "activity", "activity": {"name": f"a{i}"}, "outcome": "ok"})
    return path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("tamper", ["edited", "removed", "reordered"])
def test_audit_verify_detects_tampering(
    tmp_path: Path, tamper: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _write_chain(log, 5)
    assert chaosllm_main(["audit", "verify", str(log)]) == 3  # intact, but unkeyed
    if tamper == "edited":
        lines[2] = lines[2].replace(b'"outcome":"ok"', b'"outcome":"failed"')
    elif tamper == "removed":
        del lines[2]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    log.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert chaosllm_main(["audit", "verify", str(log)]) == 1
    out = capsys.readouterr().out
    assert "audit log TAMPERED" in out
    expected = "(edited)" if tamper == "edited" else "removed, inserted or reordered"
    assert f"line {2 if tamper == 'reordered' else 3}" in out and expected in out


def test_audit_verify_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _write_chain(log, 3)
    capsys.readouterr()
    assert chaosllm_main(["audit", "verify", str(log), "--json"]) == 3
    unkeyed = json.loads(capsys.readouterr().out)
    assert unkeyed == {"file": str(log), "entries": 3, "keyed": 0, "status": "unkeyed",
                       "intact": False, "head": json.loads(lines[-1])["hash"], "problems": [],
                       "unproven": [unkeyed["unproven"][0]]}  # fmt: skip
    assert "anyone who can write it could have rebuilt" in unkeyed["unproven"][0]
    log.write_bytes(lines[0] + lines[2])
    assert chaosllm_main(["audit", "verify", str(log), "--json"]) == 1
    broken = json.loads(capsys.readouterr().out)
    assert (broken["intact"], broken["head"], broken["entries"]) == (False, None, 2)
    assert any("removed, inserted or reordered" in p for p in broken["problems"])


def test_audit_verify_detects_a_cut_off_tail_with_the_head_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _write_chain(log, 3)
    head = json.loads(lines[-1])["hash"]
    log.write_bytes(b"".join(lines[:-1]))
    assert chaosllm_main(["audit", "verify", str(log)]) == 3
    assert chaosllm_main(["audit", "verify", str(log), "--head", head]) == 1
    assert "cut off" in capsys.readouterr().out


def test_approve_command_signs_what_the_control_accepts(tmp_path: Path) -> None:
    from chaosllm.controls.approval import check_approval

    experiment = {"title": "t", "description": "d", "method": []}
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    out = tmp_path / "approval.json"
    proc = subprocess.run(
        [*CHAOSLLM, "approve", str(path), "--approver", "bob", "--expires-in", "2h", "-o", str(out)],
        capture_output=True, text=True, env=chaos_env({"CHAOSLLM_APPROVAL_KEY": KEY}),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout + out.read_text()
    approval = check_approval(experiment, "production", str(out), KEY)
    assert approval["approver"] == "bob"
    refused = subprocess.run([*CHAOSLLM, "approve", str(path), "--approver", "bob"],
                             capture_output=True, text=True,
                             env={**chaos_env(), "CHAOSLLM_APPROVAL_KEY": ""})  # fmt: skip
    assert refused.returncode == 1 and "CHAOSLLM_APPROVAL_KEY" in refused.stderr
