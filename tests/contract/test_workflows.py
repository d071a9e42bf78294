"""The GitHub workflows: valid for GitHub (check-jsonschema's vendored workflow schema), the
design's nightly pipeline step by step, and every command they run exists here: make targets,
chaosllm subcommands and their options, repository paths."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosllm.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(name: str) -> list[dict[str, Any]]:
    return [step for job in _load(name)["jobs"].values() for step in job["steps"]]


def _commands(name: str) -> list[list[str]]:
    """Each shell command line of every `run:`, split into words (continuations joined)."""
    lines = []
    for step in _steps(name):
        text = re.sub(r"\\\n\s*", " ", step.get("run", ""))
        for line in text.splitlines():
            line = line.split(" || ")[0].strip()
            if line and not line.startswith("#"):
                lines.append(shlex.split(line, comments=True))
    return lines


def test_the_workflows_are_there() -> None:
    assert [p.name for p in FILES] == ["chaos-test.yml", "ci.yml"]


def test_github_accepts_them() -> None:
    tool = Path(sys.executable).parent / "check-jsonschema"
    if not tool.exists():
        pytest.fail("check-jsonschema is missing: it comes with the test extra")
    done = subprocess.run([str(tool), "--builtin-schema", "vendor.github-workflows", *map(str, FILES)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_bites(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    tool = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run([str(tool), "--builtin-schema", "vendor.github-workflows", str(broken)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0


def test_the_nightly_pipeline_follows_the_design() -> None:
    workflow = _load("chaos-test.yml")
    assert workflow["on"]["schedule"] == [{"cron": "0 2 * * *"}] and "workflow_dispatch" in workflow["on"]
    names = [s.get("name", s.get("uses", "")) for s in _steps("chaos-test.yml")]
    order = ["Deploy to staging", "Run chaos experiments", "Validate SLOs", "Generate report",
             "Upload journals and reports", "Publish JUnit results", "Cleanup"]
    assert [n for n in names if n in order] == order
    steps = {s.get("name"): s for s in _steps("chaos-test.yml")}
    for always in order[3:]:
        assert steps[always].get("if") == "always()", always
    assert "--fail-on" in steps["Validate SLOs"]["run"]
    assert steps["Cleanup"]["run"].strip() == "chaosllm cleanup"
    assert steps["Upload journals and reports"]["uses"].startswith("actions/upload-artifact@")
    assert "journals/" in steps["Upload journals and reports"]["with"]["path"]
    assert "reports/*.xml" in steps["Publish JUnit results"]["with"]["report_paths"]
    # No secret is echoed: the kubeconfig goes to a file through the environment.
    assert "${{ secrets." not in "".join(s.get("run", "") for s in steps.values())


def test_ci_runs_make_test() -> None:
    assert ["make", "test"] in _commands("ci.yml")
    assert ["make", "package"] in _commands("ci.yml")


def _make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@pytest.mark.parametrize("name", [p.name for p in FILES])
def test_every_command_exists_here(name: str) -> None:
    targets, chaosllm = _make_targets(), _subcommands(build_parser())
    checked = 0
    for words in _commands(name):
        if words[:1] == ["sudo"]:
            words = words[1:]
        if words[:1] == ["make"]:
            assert set(words[1:]) <= targets, (words, sorted(targets))
            checked += 1
        if words[:1] == ["chaosllm"]:
            sub = chaosllm.get(words[1])
            assert sub is not None, f"chaosllm has no subcommand {words[1]!r}"
            options = {o for a in sub._actions for o in a.option_strings}
            used = {w for w in words[2:] if w.startswith("--")}
            assert used <= options, (words, sorted(used - options))
            checked += 1
        for word in words:
            path = word.split("*")[0].rstrip("/")
            if re.match(r"^(deploy|experiments|scripts|journals/samples)/", word):
                assert (REPO / path).exists() or list(REPO.glob(word)), word
    assert checked >= 2


def test_the_nightly_experiments_exist() -> None:
    default = _load("chaos-test.yml")["on"]["workflow_dispatch"]["inputs"]["experiments"]["default"]
    assert sorted(REPO.glob(default)), default
    assert os.path.basename(default) == "*.json"
