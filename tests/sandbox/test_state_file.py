"""The sandbox commands on a missing, damaged or stopped state file, and the
demo's scenario selection; no server is started."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosllm.cli import main as cli
from chaosllm.sandbox.app import demo, launcher, stack
from chaosllm.sandbox.app.state import STATE_FILE, StateDamaged, read_state, status, write_state
from chaosllm.settings import env_name

DAMAGED = {
    "not JSON": ("{not json", "it is not JSON (Expecting property name"),
    "empty": ("", "it is empty"),
    "a list": ("[1]", "it holds a JSON list, not an object"),
    "services a list": ('{"services": [], "settings": {}}', "'services' is missing or not an object"),
    "service without pid": ('{"services": {"x": {}}, "settings": {}}', "service 'x' has no valid 'pid'"),
    "settings a list": ('{"services": {}, "settings": []}', "'settings' is missing or not an object"),
    "no services": ('{"settings": []}', "'services' is missing or not an object"),
}


def _run(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "chaosllm.cli", "sandbox", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def _write(directory: Path, state: Any) -> Path:
    path = directory / STATE_FILE
    path.write_text(state if isinstance(state, str) else json.dumps(state))
    return path


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process in its own group, as the sandbox starts its services."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("case", DAMAGED)
def test_read_state_names_the_file_and_the_cause(tmp_path: Path, case: str) -> None:
    text, cause = DAMAGED[case]
    path = _write(tmp_path, text)
    with pytest.raises(StateDamaged) as info:
        read_state(tmp_path)
    message = str(info.value)
    assert message.startswith(f"sandbox state file {path} is damaged: ")
    assert cause in message
    assert message.endswith("remove it after checking that nothing from it is still running")


def test_read_state_refuses_binary_and_bad_ids(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"\xff\xfe")
    with pytest.raises(StateDamaged, match="it is not text"):
        read_state(tmp_path)
    _write(tmp_path, {"services": {"redis": {"pid": 1, "port": 6379}}, "settings": {}})
    with pytest.raises(StateDamaged, match="service 'redis' has no valid 'pid'"):
        read_state(tmp_path)
    _write(tmp_path, {"services": {"redis": {"pid": 4242, "port": 6379, "pids": ["7"]}},
                      "settings": {}})  # fmt: skip
    with pytest.raises(StateDamaged, match="service 'redis' has an invalid 'pids'"):
        status(tmp_path)


@pytest.mark.parametrize("command", ["status", "env", "down"])
@pytest.mark.parametrize("case", DAMAGED)
def test_commands_report_a_damaged_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              command: str, case: str) -> None:  # fmt: skip
    text, cause = DAMAGED[case]
    path = _write(tmp_path, text)
    assert cli(["sandbox", command, "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    prefix = f"chaosllm sandbox {command}: error: "
    if command == "down":
        prefix += "could not stop everything: "
    assert err.startswith(f"{prefix}sandbox state file {path} is damaged: ")
    assert cause in err
    assert path.read_text() == text  # kept as it is, for whoever checks it


def test_unreadable_state_file_without_traceback() -> None:
    code, _, err = _run("status", "--dir", "/dev/null")
    assert (code, err) == (1, "chaosllm sandbox status: error: /dev/null/state.json: Not a directory\n")


def test_cli_damaged_state_file_without_traceback(tmp_path: Path) -> None:
    _write(tmp_path, "")
    for command in ("status", "env", "down"):
        code, _, err = _run(command, "--dir", str(tmp_path))
        assert code == 1 and "Traceback" not in err
        assert f"chaosllm sandbox {command}: error: " in err and " is damaged: it is empty;" in err


def test_down_stops_what_a_damaged_state_file_identifies(
    tmp_path: Path, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    state = {"services": {"worker": {"pid": sleeper.pid, "port": launcher.free_port(), "url": ""},
                          "redis": {"port": 6379}},
             "settings": {}}  # fmt: skip
    path = _write(tmp_path, state)
    assert cli(["sandbox", "down", "--dir", str(tmp_path)]) == 1
    assert sleeper.wait(5) is not None
    out, err = capsys.readouterr()
    assert "stopped worker" in out and "nothing left running" in out
    assert err.startswith("chaosllm sandbox down: error: could not stop everything: sandbox state file ")
    assert "service 'redis' has no valid 'pid'" in err
    assert json.loads(path.read_text()) == state


def test_down_where_there_is_no_sandbox_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    code, out, _ = _run("down", "--dir", str(missing))
    assert (code, out) == (0, f"no sandbox in {missing}\n")
    code, out, _ = _run("down", "--dir", str(missing), "--json")
    assert code == 0 and json.loads(out)["found"] is False


def test_down_of_a_stopped_sandbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, {"services": {"worker": {"pid": _dead_pid(), "port": launcher.free_port()}},
                      "settings": {}})  # fmt: skip
    assert cli(["sandbox", "down", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.endswith("nothing running\n")
    assert "stopped_at" in read_state(tmp_path)


def test_env_needs_a_running_sandbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["sandbox", "env", "--dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (f"chaosllm sandbox env: error: no sandbox in {tmp_path} "
                                       "(run 'chaosllm sandbox up')\n")  # fmt: skip
    _write(tmp_path, {"services": {"worker": {"pid": _dead_pid(), "port": launcher.free_port()}},
                      "settings": {"gateway_url": "http://127.0.0.1:1"}})  # fmt: skip
    for extra in ([], ["--json"]):
        assert cli(["sandbox", "env", "--dir", str(tmp_path), *extra]) == 1
        out, err = capsys.readouterr()
        assert out == "" and f"the sandbox in {tmp_path} is not running" in err


def test_env_prints_exports_or_json(tmp_path: Path, sleeper: subprocess.Popen[bytes],
                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    settings = {"gateway_url": "http://127.0.0.1:8080", "sandbox_memory_stress": "870 MB"}
    _write(tmp_path, {"services": {"worker": {"pid": sleeper.pid, "port": launcher.free_port()}},
                      "settings": settings})  # fmt: skip
    assert cli(["sandbox", "env", "--dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {env_name(k): v for k, v in settings.items()}
    assert cli(["sandbox", "env", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"export {env_name('gateway_url')}=http://127.0.0.1:8080",
        f"export {env_name('sandbox_memory_stress')}='870 MB'",
    ]


SCENARIOS = demo.ROOT / "experiments/scenarios/local"


def test_select_scenarios_by_number() -> None:
    every = demo.select_scenarios(SCENARIOS)
    assert [demo.scenario_number(p) for p in every] == [1, 2, 3, 4, 5, 6]
    assert demo.select_scenarios(SCENARIOS, " 4,1") == [every[0], every[3]]
    with pytest.raises(ValueError) as info:
        demo.select_scenarios(SCENARIOS, "9")
    assert str(info.value) == f"no scenario numbered 9 in {SCENARIOS} (have 1, 2, 3, 4, 5, 6)"


@pytest.mark.parametrize("only", ["", " ", "1,", "a", "1-2", "\u00b2"])
def test_select_scenarios_refuses_what_is_not_a_number(only: str) -> None:
    with pytest.raises(ValueError, match="--only takes scenario numbers separated by commas"):
        demo.select_scenarios(SCENARIOS, only)


def test_select_scenarios_without_leading_numbers(tmp_path: Path) -> None:
    for name in ("guard-aborted.json", "2-redis.json", "10x.json"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in demo.select_scenarios(tmp_path)] == ["10x.json", "2-redis.json",
                                                                 "guard-aborted.json"]  # fmt: skip
    assert [p.name for p in demo.select_scenarios(tmp_path, "2")] == ["2-redis.json"]
    with pytest.raises(ValueError) as info:
        demo.select_scenarios(tmp_path, "1")
    assert str(info.value) == (
        f"no scenario numbered 1 in {tmp_path} (have 2; 2 file(s) there, e.g. 10x.json, do not "
        "start with a number like 01- and cannot be selected with --only)"
    )
    with pytest.raises(ValueError, match=f"no scenario found in {tmp_path / 'logs'}"):
        (tmp_path / "logs").mkdir()
        demo.select_scenarios(tmp_path / "logs")
    with pytest.raises(ValueError, match="no such directory"):
        demo.select_scenarios(tmp_path / "typo")


@pytest.fixture
def no_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The demo's run dir in tmp_path; starting or stopping a sandbox fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the demo must not get this far")

    monkeypatch.setattr(demo, "run_dir", lambda *args: tmp_path)
    monkeypatch.setattr(stack, "up", refuse)
    monkeypatch.setattr(stack, "down", refuse)
    return tmp_path


@pytest.mark.parametrize(("argv", "message"), [
    (["--only", "9"], f"error: no scenario numbered 9 in {SCENARIOS} (have 1, 2, 3, 4, 5, 6)"),
    (["--only", ""], "error: --only takes scenario numbers separated by commas, e.g. 1,4; got ''"),
    (["--only", "1", "--experiments", str(demo.ROOT / "journals/samples")],
     "cannot be selected with --only"),
])  # fmt: skip
def test_demo_refuses_bad_selection(no_sandbox: Path, capsys: pytest.CaptureFixture[str],
                                    argv: list[str], message: str) -> None:  # fmt: skip
    with pytest.raises(SystemExit) as info:
        demo.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_demo_refuses_a_damaged_state_file(no_sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(no_sandbox, "[1]")
    assert demo.main(["--only", "1"]) == 2
    assert f"error: sandbox state file {no_sandbox / STATE_FILE} is damaged" in capsys.readouterr().out


def test_the_state_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    write_state(tmp_path, {"services": {}, "settings": {"redis_url": "redis://:pw@127.0.0.1:1/0"}})
    assert (tmp_path / STATE_FILE).stat().st_mode & 0o777 == 0o600


def test_up_where_a_sandbox_runs_is_one_error_line(tmp_path: Path,
                                                   sleeper: subprocess.Popen[bytes]) -> None:  # fmt: skip
    state = {"services": {"worker": {"pid": sleeper.pid, "port": launcher.free_port()}},
             "settings": {}}  # fmt: skip
    path = _write(tmp_path, state)
    code, out, err = _run("up", "--dir", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == (f"chaosllm sandbox up: error: the sandbox in {tmp_path} is already running "
                   "(worker): run 'chaosllm sandbox down' first\n")  # fmt: skip
    assert json.loads(path.read_text()) == state and sleeper.poll() is None


def test_up_json_masks_every_credential(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    management = "http://guest:S3cretMq@127.0.0.1:15672"
    state = {"dir": "/tmp/x", "services": {"rabbitmq": {"pid": 1, "port": 5672,
                                                        "management_url": management}},
             "settings": {"rabbitmq_management_url": management,
                          "rabbitmq_url": "amqp://guest:S3cretMq@127.0.0.1:5672/%2F",
                          "gateway_url": "http://127.0.0.1:8080"}}  # fmt: skip
    monkeypatch.setattr(stack, "up", lambda *args, **kwargs: state)
    assert cli(["sandbox", "up", "--json"]) == 0
    out = capsys.readouterr().out
    assert "S3cretMq" not in out
    shown = json.loads(out)
    assert shown["settings"]["rabbitmq_management_url"] == "http://guest:***@127.0.0.1:15672"
    assert shown["settings"]["gateway_url"] == "http://127.0.0.1:8080"
