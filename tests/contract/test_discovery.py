"""The published API: discovery, __all__, rollbacks and JSON-friendly types."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import types
import typing
from types import ModuleType

import pytest

import chaosllm

MODULES = [
    f"chaosllm.{package}.{kind}"
    for package in chaosllm.ACTIVITY_PACKAGES
    for kind in ("actions", "probes")
    if chaosllm._existing(f"chaosllm.{package}.{kind}")
]
JSON_TYPES = (dict, list, int, float, str, bool, type(None))
ROLLBACK_PREFIXES = ("remove_", "restore_", "release_", "resume_", "unpause_", "unlock_",
                     "reset_", "enable_", "stop_", "delete_")


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def _public_functions(module: ModuleType) -> list[str]:
    """The functions ``module`` defines or re-exports as activities.

    A façade re-exports whole private family modules of its package: everything
    they publish, and every function imported from them whose example names it.
    """
    own = [
        name
        for name, obj in vars(module).items()
        if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_")
    ]
    homes = {getattr(getattr(module, name), "__module__", module.__name__) for name in module.__all__}
    homes.discard(module.__name__)
    package = module.__name__.rpartition(".")[0]
    assert all(home.startswith(f"{package}._") for home in homes), (
        f"{module.__name__} publishes functions from outside its package's private modules: {homes}"
    )
    # A re-exported activity names its public module in its docstring's example.
    named = [
        name
        for name, obj in vars(module).items()
        if inspect.isfunction(obj) and obj.__module__.startswith(f"{package}._")
        and f'"{module.__name__}"' in (inspect.getdoc(obj) or "") and not name.startswith("_")
    ]
    family = [name for home in sorted(homes) for name in importlib.import_module(home).__all__]
    return sorted(set(own + named + family))


def test_there_are_activity_modules() -> None:
    assert "chaosllm.redis.actions" in MODULES
    assert "chaosllm.postgres.probes" in MODULES


def test_every_package_with_activities_is_published() -> None:
    from pathlib import Path

    root = Path(chaosllm.__file__).parent
    found = {path.parent.name for kind in ("actions", "probes", "tolerances")
             for path in root.glob(f"*/{kind}.py")}  # fmt: skip
    assert found - set(chaosllm.ACTIVITY_PACKAGES) == set(), (
        "packages with actions.py, probes.py or tolerances.py missing from chaosllm.ACTIVITY_PACKAGES"
    )
    assert "chaosllm.alertmanager.probes" in MODULES and "chaosllm.observability.probes" in MODULES


def test_tolerances_are_published_in_the_docs() -> None:
    tolerances = chaosllm.load_tolerances()
    names = {(t["mod"], t["name"]) for t in tolerances}
    assert ("chaosllm.slo.tolerances", "no_alerts") in names
    assert ("chaosllm.litmus.tolerances", "litmus_passed") in names
    assert all(t["type"] == "tolerance" and t["doc"] for t in tolerances)


@pytest.mark.parametrize("name", MODULES)
def test_all_matches_public_functions(name: str) -> None:
    module = _module(name)
    assert sorted(module.__all__) == sorted(_public_functions(module))


@pytest.mark.parametrize("name", MODULES)
def test_activities_are_documented_and_typed(name: str) -> None:
    module = _module(name)
    for func_name in module.__all__:
        func = getattr(module, func_name)
        doc = inspect.getdoc(func) or ""
        assert doc, f"{name}.{func_name} has no docstring"
        assert '"func"' in doc or "```json" in doc or '{"' in doc, (
            f"{name}.{func_name} docstring lacks a JSON example"
        )
        hints = typing.get_type_hints(func)
        sig = inspect.signature(func)
        for param in sig.parameters:
            assert param in hints, f"{name}.{func_name}: parameter {param} has no type hint"
        assert "return" in hints, f"{name}.{func_name} has no return type"
        params = list(sig.parameters)
        tail = [p for p in params if p in ("configuration", "secrets")]
        assert params[len(params) - len(tail):] == tail, (
            f"{name}.{func_name}: configuration and secrets must come last"
        )
        origin = typing.get_origin(hints["return"]) or hints["return"]
        if origin in (typing.Union, types.UnionType):
            origins = [typing.get_origin(a) or a for a in typing.get_args(hints["return"])]
        else:
            origins = [origin]
        for o in origins:
            assert o is typing.Any or o in JSON_TYPES, (
                f"{name}.{func_name} returns {hints['return']}, which is not JSON-serialisable"
            )


def test_discovery_classifies_actions_and_probes() -> None:
    activities = chaosllm.load_exported_activities()
    assert activities, "discovery found nothing"
    for activity in activities:
        expected = "action" if activity["mod"].endswith(".actions") else "probe"
        assert activity["type"] == expected, activity["name"]
    json.dumps(activities)  # discovery itself is JSON


def test_every_fault_action_has_its_rollback() -> None:
    for name in [m for m in MODULES if m.endswith(".actions")]:
        module = _module(name)
        rollbacks = getattr(module, "ROLLBACKS", {})
        for func_name in module.__all__:
            params = inspect.signature(getattr(module, func_name)).parameters
            if "duration" not in params or func_name.startswith(ROLLBACK_PREFIXES):
                continue
            assert func_name in rollbacks, f"{name}.{func_name} takes a duration but has no rollback"
        for fault, rollback in rollbacks.items():
            assert fault in module.__all__, f"{name}.ROLLBACKS names unknown fault {fault}"
            assert rollback in module.__all__, f"{name}.ROLLBACKS names unknown rollback {rollback}"


def test_chaos_discover_cli_lists_every_activity(tmp_path: typing.Any) -> None:
    out = tmp_path / "discovery.json"
    chaos = [sys.executable, "-c", "from chaostoolkit.__main__ import cli; cli()"]
    proc = subprocess.run(
        [*chaos, "--log-file", str(tmp_path / "chaos.log"), "discover", "chaosllm",
         "--no-install", "--discovery-path", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    data = json.loads(out.read_text())
    names = {a["name"] for a in data["activities"]}
    expected = {a["name"] for a in chaosllm.load_exported_activities()}
    assert expected <= names
    assert all(a.get("doc") for a in data["activities"])


def test_import_is_light() -> None:
    code = "import sys, chaosllm, chaosllm.cli; print('kubernetes' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_building_the_command_line_loads_no_backend_nor_chaoslib() -> None:
    # Every `chaosllm report` builds the whole parser first: a subcommand's defaults must not
    # import its implementation (the workflow renderer once pulled in chaoslib and the ledger).
    code = ("import sys; from chaosllm.cli import build_parser; build_parser(); "
            "print(*sorted(m for m in sys.modules if m.startswith(('chaoslib', 'yaml', 'chaosllm.'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = proc.stdout.split()
    assert not [m for m in loaded if m.startswith(("chaoslib", "yaml"))], loaded
    heavy = ("chaosllm.chaosmesh", "chaosllm.faults", "chaosllm.errors", "chaosllm.workflow.render")
    assert not [m for m in loaded if m.startswith(heavy)], loaded


def test_activities_doc_is_current() -> None:
    from pathlib import Path

    from chaosllm.docs import render_activities

    path = Path(__file__).resolve().parents[2] / "docs" / "ACTIVITIES.md"
    assert path.read_text(encoding="utf-8") == render_activities(), (
        "docs/ACTIVITIES.md is stale: run 'make docs'"
    )
