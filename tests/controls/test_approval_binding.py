"""Approvals bind: the operator's key, this run's resolved configuration, the
environment however it is spelled, a bounded number of runs, a strict file."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from chaosllm.controls._approvals import parse_approval
from chaosllm.controls._experiment import canonical_json
from chaosllm.controls.approval import sign_approval
from tests.chaos_run import CHAOSLLM, chaos_env, run_experiment

pytestmark = pytest.mark.integration

KEY = "operator-approval-key-for-tests"


def _experiment(workdir: Path, environment: Any = "production", **extra: Any) -> dict[str, Any]:
    return {
        "title": "production change", "description": "needs an approval",
        "configuration": {"environment": environment, "duration": "1s"},
        "method": [{"type": "action", "name": "touch-marker",
                    "provider": {"type": "process", "path": "sh",
                                 "arguments": f"-c 'echo ${{duration}} >> {workdir / 'ran'}'"}}],
        "controls": [{"name": "chaosllm-approval",
                      "provider": {"type": "python", "module": "chaosllm.controls.approval",
                                   "arguments": {"approval_file": str(workdir / "approval.json")}}}],
        **extra,
    }  # fmt: skip


def _write(workdir: Path, approval: dict[str, Any] | str) -> None:
    text = approval if isinstance(approval, str) else json.dumps(approval)
    (workdir / "approval.json").write_text(text, encoding="utf-8")


def _approve(experiment: dict[str, Any], workdir: Path, key: str = KEY,
             configuration: dict[str, Any] | None = None, max_uses: int = 1) -> dict[str, Any]:  # fmt: skip
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    approval = sign_approval(experiment, "alice", "production", expires, key, configuration, max_uses)
    _write(workdir, approval)
    return approval


def _run(experiment: dict[str, Any], workdir: Path, key: str | None = KEY, *args: str,
         env: dict[str, str] | None = None) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    environment = {"CHAOSLLM_APPROVAL_KEY": key or "", **(env or {})}
    return run_experiment(experiment, workdir, env=environment, timeout=120, extra_args=args)


def _refused(proc: Any, journal: dict[str, Any], workdir: Path, reason: str) -> None:
    assert not (workdir / "ran").exists(), proc.stderr
    assert journal["status"] == "interrupted" and journal["run"] == [], proc.stderr
    assert reason in proc.stderr


CRAFTED = ('{"approver":"x","environment":"production","experiment_digest":"sha256:0",'
           '"issued_at":"x","expires_at":"2999-01-01T00:00:00+00:00","signature":"00",'
           '"junk":"\\ud800"}')  # fmt: skip


@pytest.mark.parametrize("content, reason", [
    (CRAFTED, "unexpected field(s) 'junk'"),
    ("[" * 100_000, "is not a valid approval: larger than 64 KiB"),
    ("[" * 60_000, "is not a valid approval: nested too deeply"),
    ('{"approver": "x", "approver": "y"}', "repeated field(s) approver"),
], ids=["crafted", "100000-brackets", "60000-brackets", "repeated-field"])  # fmt: skip
def test_a_crafted_approval_file_is_refused(
    tmp_path: Path, content: str, reason: str
) -> None:
    _write(tmp_path, content)
    proc, journal = _run(_experiment(tmp_path), tmp_path)
    _refused(proc, journal, tmp_path, reason)


def test_an_approval_key_in_the_experiment_is_never_used(tmp_path: Path) -> None:
    # an inline numeric key (which made the control raise), and no operator key
    experiment = _experiment(tmp_path, secrets={"approval": {"approval_key": 12345}})
    _approve(experiment, tmp_path, key="12345")
    proc, journal = _run(experiment, tmp_path, key=None)
    _refused(proc, journal, tmp_path,
             "no approval key: set CHAOSLLM_APPROVAL_KEY_FILE or CHAOSLLM_APPROVAL_KEY")


def test_the_author_cannot_sign_their_own_approval(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path, secrets={"approval": {"approval_key": "authors-own-key"}},
                             configuration={"environment": "production", "duration": "1s",
                                            "approval_key": "authors-own-key"})  # fmt: skip
    _approve(experiment, tmp_path, key="authors-own-key")
    proc, journal = _run(experiment, tmp_path)
    _refused(proc, journal, tmp_path, "has a bad signature")


def test_an_approval_does_not_cover_another_value_of_a_variable(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path)
    _approve(experiment, tmp_path, max_uses=2)
    proc, journal = _run(experiment, tmp_path, KEY, "--var", "duration=24h")
    _refused(proc, journal, tmp_path, "is for another experiment or another configuration")
    proc, journal = _run(experiment, tmp_path, KEY, "--var", "duration=1s")
    assert journal["status"] == "completed", proc.stderr
    assert (tmp_path / "ran").read_text() == "1s\n"


def test_an_approval_does_not_cover_another_value_of_an_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = _experiment(tmp_path)
    experiment["configuration"]["duration"] = {"type": "env", "key": "TEST_FAULT_DURATION"}
    monkeypatch.setenv("TEST_FAULT_DURATION", "1s")
    _approve(experiment, tmp_path, max_uses=2)  # signed as resolved now: 1s
    proc, journal = _run(experiment, tmp_path, env={"TEST_FAULT_DURATION": "24h"})
    _refused(proc, journal, tmp_path, "is for another experiment or another configuration")
    proc, journal = _run(experiment, tmp_path, env={"TEST_FAULT_DURATION": "1s"})
    assert journal["status"] == "completed", proc.stderr


@pytest.mark.parametrize("environment, var", [
    ("Production", None), ("production ", None), (" PROD\t", None), ("production", "environment=staging"),
], ids=["capitalised", "trailing-space", "prod-spaced", "var-staging"])  # fmt: skip
def test_a_protected_environment_however_spelled_or_overridden_needs_an_approval(
    tmp_path: Path, environment: str, var: str | None
) -> None:
    args = ("--var", var) if var else ()
    proc, journal = _run(_experiment(tmp_path, environment), tmp_path, KEY, *args)
    expected = "prod" if "PROD\t" in environment else "production"
    _refused(proc, journal, tmp_path, f"refusing to run on protected environment '{expected}': "
                                      "cannot read approval")


def test_an_environment_that_is_not_a_name_is_refused(tmp_path: Path) -> None:
    proc, journal = _run(_experiment(tmp_path, ["production"]), tmp_path)
    _refused(proc, journal, tmp_path, "the environment must be a name (a string), got list")


def _use_count(tmp_path: Path, approval: dict[str, Any]) -> Path:
    """Where the run counts the approval's uses: the state directory the tests give each run."""
    return tmp_path / "state" / "approvals" / f"{approval['signature']}.json"


def test_an_approval_is_used_once_unless_it_allows_more(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path)
    signed = _approve(experiment, tmp_path)
    proc, journal = _run(experiment, tmp_path)
    assert journal["status"] == "completed", proc.stderr
    approval = next(e for e in journal["extensions"] if e["name"] == "chaosllm-approval")
    assert approval["uses"] == 1 and approval["max_uses"] == 1
    count = _use_count(tmp_path, signed)
    assert json.loads(count.read_text())["uses"] == 1 and count.stat().st_mode & 0o077 == 0
    (tmp_path / "ran").unlink()
    proc, journal = _run(experiment, tmp_path)
    _refused(proc, journal, tmp_path, "is used up (1 of 1 run(s))")

    _approve(experiment, tmp_path, max_uses=2)
    statuses = [_run(experiment, tmp_path)[1]["status"] for _ in range(3)]
    assert statuses == ["completed", "completed", "interrupted"]
    assert (tmp_path / "ran").read_text() == "1s\n1s\n"


def test_an_unreadable_use_count_refuses_rather_than_counting_from_zero(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path)
    count = _use_count(tmp_path, _approve(experiment, tmp_path, max_uses=5))
    count.parent.mkdir(parents=True)
    count.write_text("{not json")
    proc, journal = _run(experiment, tmp_path)
    _refused(proc, journal, tmp_path, "is unreadable; refusing rather than counting from zero")
    assert count.read_text() == "{not json"


def test_an_unexpected_field_is_refused_even_when_signed(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path)
    approval = _approve(experiment, tmp_path)
    approval.pop("signature")
    approval["scope"] = "everything"
    approval["signature"] = hmac.new(KEY.encode(), canonical_json(approval), hashlib.sha256).hexdigest()
    _write(tmp_path, approval)
    proc, journal = _run(experiment, tmp_path)
    _refused(proc, journal, tmp_path, "unexpected field(s) 'scope'")


def test_approve_with_a_key_file_and_variables_signs_exactly_that_run(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path)
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    key_file = tmp_path / "approval.key"
    key_file.write_text(KEY + "\n")
    env = {"CHAOSLLM_APPROVAL_KEY_FILE": str(key_file)}
    signed = subprocess.run(
        [*CHAOSLLM, "approve", str(path), "--approver", "bob", "--environment", " PRODUCTION ",
         "--var", "duration=2s", "--max-uses", "1", "-o", str(tmp_path / "approval.json")],
        capture_output=True, text=True, env=chaos_env({**env, "CHAOSLLM_APPROVAL_KEY": ""}),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert KEY not in signed.stdout + signed.stderr + (tmp_path / "approval.json").read_text()
    assert json.loads((tmp_path / "approval.json").read_text())["environment"] == "production"
    proc, journal = _run(experiment, tmp_path, None, "--var", "duration=1s", env=env)
    _refused(proc, journal, tmp_path, "is for another experiment or another configuration")
    proc, journal = _run(experiment, tmp_path, None, "--var", "duration=2s", env=env)
    assert journal["status"] == "completed", proc.stderr


GOOD = {"approver": "a", "environment": "production", "experiment_digest": "hmac-sha256:" + "0" * 64,
        "issued_at": "2026-01-01T00:00:00+00:00", "expires_at": "2026-01-02T00:00:00+00:00",
        "max_uses": 1, "signature": "0" * 64}  # fmt: skip


@pytest.mark.parametrize("change, reason", [
    ({"max_uses": True}, "max_uses"), ({"max_uses": 0}, "max_uses"), ({"max_uses": 1001}, "max_uses"),
    ({"max_uses": "1"}, "max_uses"), ({"max_uses": 1.0}, "max_uses"),
    ({"experiment_digest": "sha256:" + "0" * 64}, "experiment_digest"),
    ({"signature": "0" * 63}, "signature"), ({"signature": "A" * 64}, "signature"),
    ({"issued_at": "2026-01-01T00:00:00"}, "issued_at has no time zone"),
    ({"expires_at": "tomorrow"}, "expires_at is not an ISO 8601 date"),
    ({"approver": ""}, "approver"), ({"approver": 5}, "approver"), ({"approver": "a\nb"}, "approver"),
    ({"environment": ["production"]}, "environment"), ({"approver": "x" * 300}, "approver"),
    ({"junk": None}, "unexpected field(s) 'junk'"),
], ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None)  # fmt: skip
def test_every_field_is_parsed_strictly(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_approval(json.dumps({**GOOD, **change}).encode())


@pytest.mark.parametrize("data, reason", [
    (b"\xff\xfe", "not UTF-8"), (b"[]", "not a JSON object"), (b'{"max_uses": NaN}', "NaN is not allowed"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "max_uses"}).encode(), "lacks max_uses"),
])  # fmt: skip
def test_a_file_that_is_not_an_approval_is_refused(data: bytes, reason: str) -> None:
    assert parse_approval(json.dumps(GOOD).encode()) == GOOD
    with pytest.raises(ValueError, match=reason):
        parse_approval(data)
