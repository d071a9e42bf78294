"""``chaosllm approve`` and ``chaosllm audit verify`` refuse bad input with a clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chaosllm.cli import main as chaosllm_main

KEY = "approval-key-for-tests"
JOURNAL = Path(__file__).resolve().parents[2] / "journals" / "samples" / "plain-deviated.json"
EXPERIMENT = {"title": "t", "description": "d", "method": []}


@pytest.fixture(autouse=True)
def _approval_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_APPROVAL_KEY", KEY)


def _approve(tmp_path: Path, experiment: Path, *args: str) -> tuple[int, Path]:
    out = tmp_path / "approval.json"
    code = chaosllm_main(["approve", str(experiment), "-o", str(out), *args])
    return code, out


def _experiment_file(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("expires_in", "message"),
    [
        ("99999999h", "--expires-in '99999999h' is too long: at most 366 days"),
        ("9" * 400 + "h", "is too long"),
        ("0s", "--expires-in 0s is too short"),
        ("0", "--expires-in 0 is too short"),
        ("500ms", "--expires-in 500ms is too short"),
        ("-1h", "not a duration"),
    ],
)
def test_approve_refuses_an_expiry_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], expires_in: str, message: str
) -> None:
    path = _experiment_file(tmp_path, EXPERIMENT)
    code, out = _approve(tmp_path, path, "--approver", "a", f"--expires-in={expires_in}")
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("chaosllm approve: error: ") and message in err
    assert not out.exists()


def test_approve_refuses_a_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "journal.json"
    shutil.copy(JOURNAL, journal)
    code, out = _approve(tmp_path, journal, "--approver", "a")
    assert code == 1
    assert "this looks like a journal" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": 1}, "it has no title"),
        ([], "is not an experiment"),
        ({"title": "", "method": []}, "it has no title"),
        ({"title": "t", "description": "d"}, "it has no method list"),
        ({"title": "t", "method": {"type": "action"}}, "it has no method list"),
    ],
)
def test_approve_refuses_what_is_not_an_experiment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: object, message: str
) -> None:
    code, out = _approve(tmp_path, _experiment_file(tmp_path, data), "--approver", "a")
    assert code == 1
    err = capsys.readouterr().err
    assert "is not an experiment" in err and message in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--approver", ""], "--approver must not be empty"),
        (["--approver", "  "], "--approver must not be empty"),
        (["--approver", "a", "--environment", ""], "--environment must not be empty"),
    ],
)
def test_approve_refuses_an_empty_approver_or_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out = _approve(tmp_path, _experiment_file(tmp_path, EXPERIMENT), *args)
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_sign_approval_refuses_an_empty_approver() -> None:
    from datetime import datetime, timezone

    from chaosllm.controls.approval import sign_approval

    with pytest.raises(ValueError, match="non-empty approver"):
        sign_approval(EXPERIMENT, "", "production", datetime.now(timezone.utc), KEY)


def test_approve_still_signs_a_valid_experiment(tmp_path: Path) -> None:
    from chaosllm.controls.approval import check_approval

    path = _experiment_file(tmp_path, EXPERIMENT)
    code, out = _approve(tmp_path, path, "--approver", "a", "--expires-in", "1s")
    assert code == 0
    assert check_approval(EXPERIMENT, "production", str(out), KEY)["approver"] == "a"


def _valid_log(path: Path) -> None:
    from chaosllm.controls.audit import append_entry

    append_entry(path, {"event": "activity", "outcome": "ok"})


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"seq":1e400,"hash":"x","prev":"y"}', "non-finite number"),
        ('{"seq":-1e400,"hash":"x","prev":"y"}', "non-finite number"),
        ('{"seq":2,"hash":"x","prev":"y","time":1e999}', "non-finite number"),
        ('{"seq":NaN,"hash":"x","prev":"y"}', "non-finite number"),
        ('{"seq":Infinity,"hash":"x","prev":"y"}', "non-finite number"),
        ('{"seq":"2","hash":"x","prev":"y"}', "seq is not a positive integer"),
        ('{"seq":true,"hash":"x","prev":"y"}', "seq is not a positive integer"),
        ('{"seq":2.0,"hash":"x","prev":"y"}', "seq is not a positive integer"),
        ('{"seq":0,"hash":"x","prev":"y"}', "seq is not a positive integer"),
        ('{"seq":2,"hash":["x"],"prev":"y"}', "hash is not a string"),
        ('{"seq":2,"hash":"x","prev":null}', "prev is not a string"),
        ('{"seq":2,"prev":"y"}', "no hash"),
        ("{}", "no seq, hash, prev"),
        ("[1, 2]", "not a JSON object"),
        ('"entry"', "not a JSON object"),
        ("{", "not JSON"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_audit_verify_reports_a_malformed_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, reason: str
) -> None:
    log = tmp_path / "audit.jsonl"
    _valid_log(log)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    assert chaosllm_main(["audit", "verify", str(log)]) == 1
    out = capsys.readouterr().out
    assert f"line 2: not an audit entry ({reason}" in out
    assert "audit log TAMPERED" in out


def test_audit_verify_reports_a_line_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b'{"seq":1,"hash":"\xff","prev":"y"}\n')
    assert chaosllm_main(["audit", "verify", str(log)]) == 1
    assert "line 1: not an audit entry (not JSON" in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_audit_verify_refuses_a_log_with_no_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_bytes(content)
    assert chaosllm_main(["audit", "verify", str(log)]) == 1
    captured = capsys.readouterr()
    assert "chain intact" not in captured.out
    assert captured.err == f"chaosllm audit verify: error: {log} holds no audit entries\n"


def test_audit_verify_refuses_a_missing_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "absent.jsonl"
    assert chaosllm_main(["audit", "verify", str(log)]) == 1
    err = capsys.readouterr().err
    assert err == f"chaosllm audit verify: error: {log}: No such file or directory\n"
