"""The keyed audit chain: with the key, ``chaosllm audit verify`` finds every
tampering an attacker without the key can do, without ``--head``; without the
key it says what it cannot prove; a keyed log is never extended without its key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from chaosllm.cli import main as chaosllm_main
from chaosllm.controls._experiment import canonical_json
from chaosllm.controls.audit import append_entry
from tests.chaos_run import run_experiment

KEY = "operator-audit-key-for-tests"


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_AUDIT_KEY", KEY)
    monkeypatch.delenv("CHAOSLLM_APPROVAL_KEY", raising=False)
    monkeypatch.delenv("CHAOSLLM_APPROVAL_KEY_FILE", raising=False)


def _log(path: Path, count: int = 5) -> list[dict[str, Any]]:
    for i in range(count):
        append_entry(path, {"event": "activity", "activity": {"name": f"a{i}"}, "outcome": "succeeded"})
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rechain(entries: list[dict[str, Any]]) -> bytes:
    """What an attacker without the key can do: rebuild the chain with SHA-256."""
    out, prev = b"", "0" * 64
    for seq, entry in enumerate(entries, 1):
        body = {k: v for k, v in entry.items() if k not in ("hash", "chain")}
        body.update(seq=seq, prev=prev)
        body["hash"] = prev = hashlib.sha256(canonical_json(body)).hexdigest()
        out += canonical_json(body) + b"\n"
    return out


def _verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = chaosllm_main(["audit", "verify", str(path), "--json"])
    return code, json.loads(capsys.readouterr().out)


def _tamper(case: str, log: Path, entries: list[dict[str, Any]]) -> None:
    lines = log.read_bytes().splitlines(keepends=True)
    if case == "truncated-tail":
        log.write_bytes(b"".join(lines[:-2]))
    elif case == "edited-chain-recomputed":
        entries[2]["outcome"] = "failed"
        log.write_bytes(_rechain(entries))
    elif case == "deleted-chain-recomputed":
        log.write_bytes(_rechain(entries[:2] + entries[3:]))
    elif case == "edited-keyed-hash-guessed":
        entries[2]["outcome"] = "failed"
        entries[2]["hash"] = hashlib.sha256(canonical_json(entries[2])).hexdigest()
        log.write_bytes(b"".join(canonical_json(e) + b"\n" for e in entries))
    elif case == "forged-append":
        forged = {"seq": 6, "event": "activity", "outcome": "succeeded", "prev": entries[-1]["hash"]}
        forged["hash"] = hashlib.sha256(canonical_json(forged)).hexdigest()
        log.write_bytes(b"".join(lines) + canonical_json(forged) + b"\n")
    elif case == "forged-keyed-append":
        forged = {"seq": 6, "event": "x", "prev": entries[-1]["hash"], "chain": "hmac-sha256",
                  "hash": "f" * 64}  # fmt: skip
        log.write_bytes(b"".join(lines) + canonical_json(forged) + b"\n")
    elif case == "replaced-fresh-chain":
        log.unlink()
        append_entry(log, {"event": "experiment-start"}, key=None)
        append_entry(log, {"event": "experiment-end"}, key=None)
    elif case == "replaced-with-another-key":
        log.unlink()
        append_entry(log, {"event": "experiment-start"}, key="the-attackers-key")
    elif case == "head-deleted":
        Path(f"{log}.head").unlink()
    elif case == "head-rolled-back":
        log.write_bytes(b"".join(lines[:-1]))
        head = {"seq": 3, "hash": entries[2]["hash"], "mac": "0" * 64}
        Path(f"{log}.head").write_text(json.dumps(head))
    elif case == "reordered":
        log.write_bytes(b"".join([lines[0], lines[2], lines[1], *lines[3:]]))


TAMPERINGS = {
    "truncated-tail": "entries were cut off", "edited-chain-recomputed": "the log was replaced",
    "deleted-chain-recomputed": "the log was replaced",
    "edited-keyed-hash-guessed": "HMAC does not match", "forged-append": "unkeyed entry after keyed",
    "forged-keyed-append": "HMAC does not match", "replaced-fresh-chain": "the log was replaced",
    "replaced-with-another-key": "HMAC does not match", "head-deleted": "is missing",
    "head-rolled-back": "audit.jsonl.head: its HMAC does not match",
    "reordered": "removed, inserted or reordered",
}  # fmt: skip


@pytest.mark.usefixtures("keyed")
@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_with_the_key_every_tampering_is_found_without_head(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    log = tmp_path / "audit.jsonl"
    entries = _log(log)
    assert all(e["chain"] == "hmac-sha256" for e in entries)
    assert _verify(log, capsys) == (0, {**_verify(log, capsys)[1], "status": "intact"})
    _tamper(case, log, entries)
    code, verdict = _verify(log, capsys)
    assert (code, verdict["status"]) == (1, "tampered"), verdict
    assert any(TAMPERINGS[case] in p for p in verdict["problems"]), verdict["problems"]


def test_a_replaced_log_with_its_head_removed_is_never_proven(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keyed: None
) -> None:
    log = tmp_path / "audit.jsonl"
    _log(log)
    log.unlink()
    Path(f"{log}.head").unlink()
    append_entry(log, {"event": "experiment-start"}, key=None)
    code, verdict = _verify(log, capsys)
    assert (code, verdict["status"]) == (3, "unkeyed")


def test_without_the_key_it_says_what_it_cannot_prove(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, keyed: None
) -> None:
    log = tmp_path / "audit.jsonl"
    entries = _log(log)
    monkeypatch.delenv("CHAOSLLM_AUDIT_KEY")
    code, verdict = _verify(log, capsys)
    assert (code, verdict["status"], verdict["keyed"]) == (3, "unproven", 5)
    assert "cannot be detected" in verdict["unproven"][0]
    capsys.readouterr()
    assert chaosllm_main(["audit", "verify", str(log)]) == 3
    assert "UNPROVEN" in capsys.readouterr().out
    # links and sequence are still checked without the key
    _tamper("reordered", log, entries)
    assert _verify(log, capsys)[0] == 1
    # and the key can come from a file
    key_file = tmp_path / "audit.key"
    key_file.write_text(KEY + "\n")
    log.unlink()
    monkeypatch.setenv("CHAOSLLM_AUDIT_KEY", KEY)
    _log(log, 2)
    monkeypatch.delenv("CHAOSLLM_AUDIT_KEY")
    capsys.readouterr()
    assert chaosllm_main(["audit", "verify", str(log), "--key-file", str(key_file)]) == 0


def test_an_old_unkeyed_log_verifies_as_unkeyed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CHAOSLLM_AUDIT_KEY", "CHAOSLLM_APPROVAL_KEY", "CHAOSLLM_APPROVAL_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    log = tmp_path / "audit.jsonl"
    entries = _log(log, 3)
    assert "chain" not in entries[0] and not Path(f"{log}.head").exists()
    monkeypatch.setenv("CHAOSLLM_AUDIT_KEY", KEY)  # verifying with a key changes nothing
    code, verdict = _verify(log, capsys)
    assert (code, verdict["status"], verdict["problems"]) == (3, "unkeyed", [])
    # extending it with the key turns it keyed from there on, and the old part stays bound
    append_entry(log, {"event": "activity"})
    code, verdict = _verify(log, capsys)
    assert (code, verdict["status"], verdict["keyed"]) == (0, "intact", 1)


def test_a_keyed_log_is_not_extended_without_its_key_or_with_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyed: None
) -> None:
    from chaosllm.controls._auditlog import AuditError

    log = tmp_path / "audit.jsonl"
    _log(log, 2)
    before = log.read_bytes()
    with pytest.raises(AuditError, match="is keyed: set CHAOSLLM_AUDIT_KEY"):
        append_entry(log, {"event": "x"}, key=None)
    with pytest.raises(AuditError, match="does not match the key"):
        append_entry(log, {"event": "x"}, key="another-key")
    assert log.read_bytes() == before


@pytest.mark.integration
def test_a_run_that_cannot_extend_the_keyed_log_stops_before_its_first_activity(
    tmp_path: Path, keyed: None
) -> None:
    log = tmp_path / "audit.jsonl"
    _log(log, 1)
    experiment = {
        "title": "audited", "description": "the audit log is keyed",
        "method": [{"type": "action", "name": "touch-marker",
                    "provider": {"type": "process", "path": "touch", "arguments": str(tmp_path / "ran")}}],
        "controls": [{"name": "chaosllm-audit", "provider": {
            "type": "python", "module": "chaosllm.controls.audit", "arguments": {"path": str(log)}}}],
    }  # fmt: skip
    proc, journal = run_experiment(experiment, tmp_path, env={"CHAOSLLM_AUDIT_KEY": ""}, timeout=120)
    assert not (tmp_path / "ran").exists(), proc.stderr
    assert journal["status"] == "interrupted" and journal["run"] == []
    assert "chaosllm control 'chaosllm-audit' failed in before_experiment_control" in proc.stderr
    assert "is keyed: set CHAOSLLM_AUDIT_KEY" in proc.stderr
    proc, journal = run_experiment(experiment, tmp_path, env={"CHAOSLLM_AUDIT_KEY": KEY}, timeout=120)
    assert journal["status"] == "completed", proc.stderr
    assert chaosllm_main(["audit", "verify", str(log)]) == 0
