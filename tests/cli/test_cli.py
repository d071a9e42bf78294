"""The ``chaosllm`` command: help at every level and errors without tracebacks."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from chaosllm.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*path, name))
    return found


COMMANDS = _commands(build_parser())


def test_every_spec_command_is_offered() -> None:
    for command in ("cleanup", "docs", "report", "gameday", "approve"):
        assert (command,) in COMMANDS
    for pair in (("proxy", "serve"), ("audit", "verify"), ("sandbox", "up"), ("sandbox", "down")):
        assert pair in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "chaosllm")
def test_help_describes_every_command(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: chaosllm {' '.join(command)}".rstrip())
    description = out.split("\n\n")[1]
    assert len(description.split()) >= 5, f"'{' '.join(command)} --help' has no description"
    assert "%%" not in out


def test_examples_keep_their_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "\nexamples:\n  chaosllm report journals/cache.json\n" in out


@pytest.mark.parametrize("group", ["proxy", "audit", "sandbox"])
def test_group_without_subcommand_prints_its_help(group: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([group]) == 2
    assert capsys.readouterr().out.startswith(f"usage: chaosllm {group} ")


def test_missing_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "audit.jsonl"
    assert main(["audit", "verify", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err == f"chaosllm audit verify: error: {missing}: No such file or directory\n"


def test_unwritable_output_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "-o", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"chaosllm docs: error: {tmp_path}: Is a directory\n"


def test_progress_and_errors_are_logged_to_stderr_with_details_under_verbose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "ACTIVITIES.md"
    assert main(["docs", "-o", str(output)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"wrote {output}\n"

    assert main(["--verbose", "docs", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    # the debug record carries the traceback; the error keeps its one line, now dated
    assert "DEBUG] [cli:" in err and "IsADirectoryError" in err
    assert "ERROR] [cli:" in err and f"chaosllm docs: error: {tmp_path}: Is a directory\n" in err

    assert main(["docs", "-o", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"chaosllm docs: error: {tmp_path}: Is a directory\n"


def test_port_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["proxy", "serve", "--port", "99999"])
    assert exit_.value.code == 2
    assert "'99999' is not a port" in capsys.readouterr().err


def test_malformed_proxy_config_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('[{"name": "redis",')
    assert main(["proxy", "serve", "--port", "0", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"chaosllm proxy: error: proxy config {config} is not valid JSON")


def test_malformed_experiment_to_approve_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSLLM_APPROVAL_KEY", "k")
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text("title: [\n")
    output = tmp_path / "approval.json"
    assert main(["approve", str(experiment), "--approver", "alice", "-o", str(output)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"chaosllm approve: error: experiment {experiment} is not valid YAML: ")
    assert err.count("\n") == 1 and not output.exists()


def test_cleanup_json_summary_even_when_nothing_is_left(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from chaosllm.faults import Ledger

    assert main(["cleanup", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("nothing to restore (no fault ledger at ")
    assert json.loads(captured.out) == {"restored": 0, "failed": 0}
    Ledger().path.write_text("{}")
    assert main(["cleanup", "--json"]) == 0
    captured = capsys.readouterr()
    assert "is empty" in captured.err and json.loads(captured.out) == {"restored": 0, "failed": 0}


def test_cleanup_creates_no_state_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "typo" / "dir"
    monkeypatch.setenv("CHAOSLLM_STATE_DIR", str(missing))
    assert main(["cleanup"]) == 0
    assert f"no fault ledger at {missing / 'ledger.json'}" in capsys.readouterr().out
    assert main(["cleanup", "--forget", "x"]) == 1
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("entry", ["just text", {"id": "x", "state": {}},
                                   {"id": "x", "restorer": "no-colon", "state": {}},
                                   {"id": "x", "restorer": "chaosllm.faults:nothing_here", "state": {}}])
def test_cleanup_names_a_malformed_ledger_entry(entry: object, capsys: pytest.CaptureFixture[str]) -> None:
    from chaosllm.faults import Ledger

    ledger = Ledger()
    with ledger._locked() as entries:
        entries["x"] = entry
    assert main(["cleanup"]) == 1
    out = capsys.readouterr().out
    assert "FAILED   x: fault ledger entry x " in out, out
    assert "x" in ledger.entries()
    assert main(["cleanup", "--forget", "x"]) == 0 and ledger.entries() == {}


def test_cleanup_reports_a_failed_restore_and_forgets_it(capsys: pytest.CaptureFixture[str]) -> None:
    from chaosllm.faults import Ledger

    ledger = Ledger()
    ledger.add({"id": "gone@nowhere", "token": "t", "restorer": "chaosllm.no_such_module:restore",
                "state": {}, "description": "a fault on a removed server", "deadline": None,
                "healer_pid": None})  # fmt: skip
    assert main(["cleanup"]) == 1
    out = capsys.readouterr().out
    assert "FAILED   gone@nowhere" in out and "chaosllm cleanup --forget ID" in out
    assert "gone@nowhere" in ledger.entries()

    assert main(["cleanup", "--forget", "gone@nowhere"]) == 0
    assert "forgot   gone@nowhere: a fault on a removed server" in capsys.readouterr().out
    assert ledger.entries() == {}
    assert main(["cleanup", "--forget", "gone@nowhere"]) == 1
