"""Durations, fault handles, the ledger and the healer, without servers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from chaosllm import faults
from chaosllm.errors import InvalidArgument
from chaosllm.faults.healer import is_healer, stop_healer
from tests.procs import wait_gone

restored: list[dict[str, object]] = []


def _restore(entry: dict[str, object]) -> str:
    restored.append(entry)
    Path(str(entry["state"]["marker"])).write_text("restored")  # type: ignore[index]
    return "ok"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1m30s", 90), ("250us", 0.00025),
     ("2", 2.0), (3, 3.0), ("0s", 0.0), ("1.5s", 1.5)],
)  # fmt: skip
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert faults.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["-1s", "ten", "", "5x", "1h-3m", "s", -2, True, None, "1s 2s",
                                 "9" * 400, "100000000h", float("inf"), float("nan")])
def test_parse_duration_refuses_bad_values(bad: object) -> None:
    with pytest.raises(InvalidArgument) as info:
        faults.parse_duration(bad, "duration")  # type: ignore[arg-type]
    assert "duration" in str(info.value)


def test_format_duration_round_trips() -> None:
    for seconds in (0.5, 30, 90, 3600, 5400):
        assert faults.parse_duration(faults.format_duration(seconds)) == pytest.approx(seconds)


def test_fault_handle_is_json() -> None:
    from chaosllm.journal_keys import FAULT_HANDLE_KEYS

    handle = faults.fault_handle("k", "n", "t", {"a": 1}, 10)
    assert set(handle) == {"kind", "name", "target", "spec", "started_at", "expires_at"}
    assert FAULT_HANDLE_KEYS <= set(handle)  # what the report recognises a handle by
    json.dumps(handle)
    assert faults.fault_handle("k", "n", "t", {}, None)["expires_at"] is None


def test_ledger_records_once_restores_once(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    restorer = f"{__name__}:_restore"
    assert faults.record_fault("a", restorer, {"marker": str(marker)}, None, "fault a", ledger)
    assert not faults.record_fault("a", restorer, {"marker": "other"}, None, "again", ledger)
    assert oct(os.stat(ledger.path).st_mode & 0o777) == "0o600"
    assert faults.restore_fault("a", ledger)["removed"] is True
    assert marker.read_text() == "restored"
    assert faults.restore_fault("a", ledger) == {"removed": False, "id": "a"}
    assert faults.cleanup(ledger) == []


def test_cleanup_keeps_entries_whose_restore_fails(tmp_path: Path) -> None:
    ledger = faults.Ledger(tmp_path / "ledger.json")
    faults.record_fault("bad", "chaosllm.faults:no_such_function", {}, None, "broken", ledger)
    report = faults.cleanup(ledger)
    assert report[0]["removed"] is False and "error" in report[0]
    assert "bad" in ledger.entries()


def test_healer_restores_when_duration_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    # The healer imports the restorer in a fresh interpreter: use a real module.
    (tmp_path / "restorer_mod.py").write_text(
        "from pathlib import Path\n"
        "def restore(entry):\n"
        "    Path(entry['state']['marker']).write_text('healed')\n"
    )
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    faults.record_fault("h", "restorer_mod:restore", {"marker": str(marker)}, 0.5, "healer", ledger)
    pid = ledger.entries()["h"]["healer_pid"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.05)
    assert marker.read_text() == "healed"
    assert ledger.entries() == {}
    assert wait_gone(pid)  # exited and reaped: no zombie


def test_rollback_stops_the_healer(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    faults.record_fault("r", f"{__name__}:_restore", {"marker": str(marker)}, 600, "long", ledger)
    pid = ledger.entries()["r"]["healer_pid"]
    assert is_healer(pid, "r") or _wait_healer(pid)
    faults.restore_fault("r", ledger)
    assert not Path(f"/proc/{pid}").exists()


def _wait_healer(pid: int, entry_id: str = "r") -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if is_healer(pid, entry_id):
            return True
        time.sleep(0.02)
    return False


def test_held_fault_releases_after_duration_and_not_twice() -> None:
    released: list[str] = []
    assert faults.hold_fault("x", lambda: released.append("x"), 0.1)
    assert not faults.hold_fault("x", lambda: released.append("y"), 0.1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not released:
        time.sleep(0.01)
    assert released == ["x"]
    assert faults.release_held("x") is False


def test_fault_seconds_requires_a_duration_unless_unbounded() -> None:
    assert faults.fault_seconds("2s", False) == 2.0
    assert faults.fault_seconds(None, True) is None
    with pytest.raises(InvalidArgument, match="allow_unbounded"):
        faults.fault_seconds(None, False, "queue limit")
    with pytest.raises(InvalidArgument, match="positive"):
        faults.fault_seconds("0s", False)


@pytest.mark.parametrize(
    ("call", "message"),
    [(lambda: faults.bounded_seconds("0s"), "duration '0s' must be positive"),
     (lambda: faults.bounded_seconds("400d"), "duration '400d' is not a duration"),
     (lambda: faults.bounded_seconds("9000h"), "duration '9000h' is too long"),
     (lambda: faults.fault_seconds(None, False, "queue limit"),
      "duration is required: a queue limit without one runs until removed; pass allow_unbounded"),
     (lambda: faults.fault_seconds("", False, field="spec.duration"), "spec.duration is required"),
     (lambda: faults.fault_seconds(-1, True, field="spec.duration"),
      "spec.duration -1 must not be negative")],
)  # fmt: skip
def test_one_rule_for_a_fault_duration(call: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        call()  # type: ignore[operator]


def test_chaos_mesh_durations_follow_the_same_rule() -> None:
    from chaosllm.chaosmesh._spec import check_duration

    assert check_duration("1m", False) == 60.0
    assert check_duration(None, True) is None
    with pytest.raises(InvalidArgument, match="spec.duration '0s' must be positive"):
        check_duration("0s", True, "spec.duration")


def test_restore_does_not_drop_a_newer_entry(tmp_path: Path) -> None:
    ledger = faults.Ledger(tmp_path / "ledger.json")
    faults.record_fault("a", f"{__name__}:_restore", {"marker": str(tmp_path / "m")}, None, "old", ledger)
    old = ledger.get("a")
    assert old is not None
    ledger.pop("a")
    faults.record_fault("a", f"{__name__}:_restore", {"marker": str(tmp_path / "n")}, None, "new", ledger)
    assert ledger.pop("a", old["token"]) is None
    assert ledger.entries()["a"]["description"] == "new"


def test_healer_keeps_retrying_while_the_target_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    # Fails five times (a server still restarting), then restores.
    (tmp_path / "flaky_mod.py").write_text(
        "from pathlib import Path\n"
        "def restore(entry):\n"
        "    tries = Path(entry['state']['marker'] + '.tries')\n"
        "    count = int(tries.read_text()) if tries.exists() else 0\n"
        "    tries.write_text(str(count + 1))\n"
        "    if count < 5:\n"
        "        raise ConnectionError('target down')\n"
        "    Path(entry['state']['marker']).write_text('healed')\n"
    )
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    faults.record_fault("f", "flaky_mod:restore", {"marker": str(marker)}, 0.1, "flaky", ledger)
    pid = ledger.entries()["f"]["healer_pid"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.05)
    assert marker.read_text() == "healed"
    assert (tmp_path / "marker.tries").read_text() == "6"
    assert ledger.entries() == {}
    assert wait_gone(pid)  # exited and reaped: no zombie


def test_reapplying_a_fault_whose_healer_is_gone_starts_a_new_one(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    restorer = f"{__name__}:_restore"
    # As a fault left by a killed healer: recorded, expired, nobody to restore it.
    assert faults.record_fault("o", restorer, {"marker": str(marker)}, 0.05, "first", ledger,
                               healer=False)
    time.sleep(0.1)
    # Just recorded, by another process say: its healer may still be starting.
    assert not faults.record_fault("o", restorer, {"marker": "other"}, 0.3, "again", ledger)
    assert ledger.entries()["o"]["healer_pid"] is None
    ledger.update("o", created_at=faults.utcnow_iso(-60))
    assert not faults.record_fault("o", restorer, {"marker": "other"}, 0.3, "again", ledger)
    entry = ledger.entries()["o"]
    assert entry["description"] == "first" and entry["deadline"] > time.time()
    pid = entry["healer_pid"]
    assert pid and (is_healer(pid, "o") or not marker.exists())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.05)
    assert marker.read_text() == "restored"  # the first, original state
    assert ledger.entries() == {}
    assert wait_gone(pid)  # exited and reaped: no zombie


def test_a_test_that_leaves_a_fault_leaves_no_healer_running(tmp_path: Path) -> None:
    import subprocess
    import sys

    entry_id = f"left-{os.getpid()}-{time.monotonic_ns()}"
    test_file = tmp_path / "test_left_behind.py"
    test_file.write_text(
        "from chaosllm import faults\n"
        "def test_leaves_a_fault(tmp_path):\n"
        f"    faults.record_fault({entry_id!r}, 'tests.faults.test_faults:_restore',\n"
        "                        {'marker': str(tmp_path / 'm')}, 600, 'left behind')\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), str(test_file)],
        capture_output=True, text=True, timeout=120, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    healers = [int(p) for p in os.listdir("/proc") if p.isdigit() and is_healer(int(p), entry_id)]
    for pid in healers:
        os.kill(pid, 15)
    assert healers == []


def test_an_unreadable_ledger_is_refused_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaosllm.errors import ConfigurationError

    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    (tmp_path / "restorer_mod.py").write_text(
        "from pathlib import Path\n"
        "def restore(entry):\n"
        "    Path(entry['state']['marker']).write_text('healed')\n"
    )
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    faults.record_fault("u", "restorer_mod:restore", {"marker": str(marker)}, 0.5, "kept", ledger)
    pid = ledger.entries()["u"]["healer_pid"]
    good = ledger.path.read_text()
    ledger.path.write_text(good.rstrip().rstrip("}") + ",}")  # a hand edit gone wrong
    broken = ledger.path.read_text()
    with pytest.raises(ConfigurationError, match="not a JSON object"):
        faults.record_fault("v", "restorer_mod:restore", {"marker": "x"}, None, "new", ledger)
    with pytest.raises(ConfigurationError):
        faults.cleanup(ledger)
    assert ledger.path.read_text() == broken
    time.sleep(1.5)  # past the deadline: the healer waits instead of giving up
    assert not marker.exists() and is_healer(pid, "u")
    ledger.path.write_text(good)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.05)
    assert marker.read_text() == "healed"
    assert wait_gone(pid)  # exited and reaped: no zombie


def _slow_restore(entry: dict[str, object]) -> str:
    time.sleep(0.5)
    return _restore(entry)


def test_a_reapply_waits_for_a_restore_in_progress(tmp_path: Path) -> None:
    """Re-applying while the healer restores: the re-application is recorded afresh
    once the restore is done, never left with no entry to undo it."""
    import threading

    ledger = faults.Ledger(tmp_path / "ledger.json")
    first = {"marker": str(tmp_path / "first")}
    assert faults.record_fault("x", f"{__name__}:_slow_restore", first, None, "first", ledger)
    restoring = threading.Thread(target=faults.restore_fault, args=("x", ledger))
    restoring.start()
    deadline = time.monotonic() + 5
    while not list((tmp_path / "locks").glob("*.lock")) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # the restorer is running now, holding the fault's lock
    with faults.fault_lock("x", ledger):
        assert Path(first["marker"]).read_text() == "restored"  # waited for the restore
        fresh = faults.record_fault("x", f"{__name__}:_restore", {"marker": str(tmp_path / "second")},
                                    None, "second", ledger)  # fmt: skip
    restoring.join(5)
    assert fresh and ledger.entries()["x"]["description"] == "second"
    assert faults.restore_fault("x", ledger)["removed"] is True
    assert faults.restore_fault("x", ledger)["removed"] is False


def test_fault_lock_is_reentrant_in_a_thread(tmp_path: Path) -> None:
    ledger = faults.Ledger(tmp_path / "ledger.json")
    faults.record_fault("y", f"{__name__}:_restore", {"marker": str(tmp_path / "m")}, None, "y", ledger)
    with faults.fault_lock("y", ledger):
        assert faults.restore_fault("y", ledger)["removed"] is True  # no deadlock


def test_every_restorer_id_loads_and_every_former_name_maps_to_one() -> None:
    from chaosllm.faults.restorers import FORMER_NAMES, RESTORERS, load_restorer

    for restorer_id, target in RESTORERS.items():
        module, _, func = target.partition(":")
        assert load_restorer("e", restorer_id).__name__ == func, restorer_id
    assert set(FORMER_NAMES.values()) <= set(RESTORERS)
    for former in FORMER_NAMES:  # the old strings load the same functions
        assert load_restorer("e", former) is load_restorer("e", FORMER_NAMES[former])


def test_the_registry_imports_no_backend() -> None:
    import subprocess
    import sys

    code = ("import sys, chaosllm.faults\n"
            "print(sorted(m for m in sys.modules if m.split('.')[1:2] and m.split('.')[0] == 'chaosllm'"
            " and m.split('.')[1] in ('redis', 'postgres', 'rabbitmq', 'proxy', 'process', 'stress')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_old_format_entry_is_restored_through_the_id_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries on disk name a function; renaming it later only changes RESTORERS."""
    from chaosllm.faults import restorers

    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    old = {"id": "maxmemory@127.0.0.1:6379", "token": "t", "state": {"marker": str(marker)},
           "restorer": "chaosllm.redis.actions:_restore_memory_entry", "description": "old",
           "created_at": "2026-01-01T00:00:00.000+00:00", "expires_at": None, "deadline": None,
           "healer_pid": None}  # fmt: skip
    ledger.path.write_text(json.dumps({old["id"]: old}))
    monkeypatch.setitem(restorers.RESTORERS, "redis.maxmemory", f"{__name__}:_restore")
    result = faults.restore_fault(old["id"], ledger)
    assert result["removed"] is True and result["result"] == "ok"
    assert marker.read_text() == "restored" and ledger.entries() == {}


def test_new_entries_store_the_stable_id(tmp_path: Path) -> None:
    ledger = faults.Ledger(tmp_path / "ledger.json")
    faults.record_fault("a", "redis.maxmemory", {}, None, "by id", ledger)
    faults.record_fault("b", "chaosllm.stress._stressng:_stop_entry", {}, None, "by former name", ledger)
    faults.record_fault("c", f"{__name__}:_restore", {}, None, "a restorer of one's own", ledger)
    stored = {key: entry["restorer"] for key, entry in ledger.entries().items()}
    assert stored == {"a": "redis.maxmemory", "b": "stress.run", "c": f"{__name__}:_restore"}


def test_an_unknown_restorer_id_is_named(tmp_path: Path) -> None:
    from chaosllm.errors import ConfigurationError

    ledger = faults.Ledger(tmp_path / "ledger.json")
    faults.record_fault("u", "redis.no-such-thing", {}, None, "typo", ledger)
    with pytest.raises(ConfigurationError, match="fault ledger entry u names restorer 'redis.no-such-thing'"):
        faults.restore_fault("u", ledger)
    assert "u" in ledger.entries()


def _failing_apply() -> None:
    raise RuntimeError("apply failed")


@pytest.mark.parametrize("on_failure", ["restore", "forget"])
def test_recording_undoes_a_new_entry_when_the_apply_fails(tmp_path: Path, on_failure: str) -> None:
    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    with pytest.raises(RuntimeError, match="apply failed"):
        with faults.recording("f", ledger, on_failure=on_failure) as rec:  # type: ignore[arg-type]
            assert rec.record(f"{__name__}:_restore", {"marker": str(marker)}, None, "f")
            _failing_apply()
    assert ledger.entries() == {}
    # "restore" runs the restorer (the apply may have changed part of the target).
    assert marker.exists() is (on_failure == "restore")


def test_recording_keeps_an_entry_in_force_when_a_reapply_fails(tmp_path: Path) -> None:
    ledger = faults.Ledger(tmp_path / "ledger.json")
    first = {"marker": str(tmp_path / "first")}
    assert faults.record_fault("k", f"{__name__}:_restore", first, None, "first", ledger)
    with pytest.raises(RuntimeError):
        with faults.recording("k", ledger) as rec:
            assert not rec.record(f"{__name__}:_restore", {"marker": "second"}, None, "again")
            assert rec.state == first  # the original state stays the one to restore
            _failing_apply()
    assert ledger.entries()["k"]["description"] == "first"
    assert not Path(first["marker"]).exists()


def test_recording_replaces_an_entry_whose_duration_is_over(tmp_path: Path) -> None:
    ledger = faults.Ledger(tmp_path / "ledger.json")
    first = {"marker": str(tmp_path / "first")}
    faults.record_fault("e", f"{__name__}:_restore", first, 0.05, "expired", ledger, healer=False)
    time.sleep(0.1)
    with faults.recording("e", ledger) as rec:
        assert Path(first["marker"]).read_text() == "restored"  # settled before anything is read
        assert rec.record(f"{__name__}:_restore", {"marker": "new"}, None, "new")
    assert ledger.entries()["e"]["description"] == "new"


def test_a_fault_its_backend_does_not_end_gets_a_healer_after_all(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    ledger = faults.Ledger(tmp_path / "ledger.json")
    with faults.recording("s", ledger) as rec:
        rec.record("proxy.toxic", {"marker": str(marker)}, 600, "s", healer=False)
        assert ledger.entries()["s"]["healer_pid"] is None
        rec.ends_by(backend=False)  # the apply showed the backend will not end it
    pid = ledger.entries()["s"]["healer_pid"]
    assert pid and (is_healer(pid, "s") or _wait_healer(pid, "s"))
    stop_healer("s", ledger.entries()["s"])
    assert wait_gone(pid)


def test_a_fault_its_backend_ended_needs_no_restorer_after_its_deadline(tmp_path: Path) -> None:
    ledger = faults.Ledger(tmp_path / "ledger.json")
    for entry_id, seconds in (("ended", 0.05), ("running", 600)):
        with faults.recording(entry_id, ledger) as rec:
            # The restorer could not run (the backend is gone by now, say).
            rec.record("chaosllm.no_such_module:restore", {}, seconds, entry_id, healer=False)
            rec.ends_by(backend=True)
    entries = ledger.entries()
    assert entries["ended"]["ended_by_backend"] and entries["ended"]["healer_pid"] is None
    time.sleep(0.1)
    report = {item["id"]: item for item in faults.cleanup(ledger)}
    assert report["ended"]["removed"] is True and report["ended"]["result"] is None
    # Before its deadline the fault is still there to undo, by its restorer.
    assert report["running"]["removed"] is False and "cannot be loaded" in report["running"]["error"]
    assert list(ledger.entries()) == ["running"]
