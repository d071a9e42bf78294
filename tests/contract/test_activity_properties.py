"""Property: whatever arguments an activity gets, it returns or raises a chaosllm error,
and it never leaves a fault in force without a fault-ledger entry.

For every published activity, Hypothesis draws arguments from the
signature: well-formed values and hostile ones for each type (huge
integers, NaN and infinity, wrong types, empty strings, "false", None,
nested junk). Nothing here can reach a real target: every server setting
and the kubeconfig name a closed loopback port (tests/closed_targets.py),
``stress-ng`` is a stand-in script that only sleeps, and the arguments that
choose a local target (a process pattern or pidfile, a PID, a path, a file
to read) are drawn from fixed safe values only. The examples are
derandomized, so a run is the same on every machine.
"""

from __future__ import annotations

import inspect
import os
import re
import signal
import subprocess
import time
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chaosllm.errors import ChaosLLMError
from chaosllm.faults import Ledger, cleanup, held_faults, release_held
from chaosllm.faults.healer import stop_healer
from chaosllm.process.procs import find
from tests.closed_targets import aim_at_closed_port, closed_port
from tests.contract.test_arguments import published

# It starts processes (the stand-in stress-ng runs and their healers).
pytestmark = pytest.mark.integration

# 20 examples of each of ~140 activities: about 40 s on two cores.
EXAMPLES = 20
NO_PROCESS = "chaosllm-no-such-process-5d0f3a91"
NEVER_A_PID = 2**22 + 1  # above the kernel's largest pid_max
A_SPEC = {"action": "pod-kill", "mode": "one", "duration": "30s", "selector": {"namespaces": ["shop"]}}
# Meaningful values of arguments many activities share, so that examples get past the first check.
MEANINGFUL: dict[str, list[Any]] = {
    "duration": ["30s", "1s", "2m"], "kind": ["PodChaos", "NetworkChaos", "Schedule"],
    "namespace": ["shop"], "namespaces": [["shop", "web"]], "label_selectors": ["app=web", {"app": "web"}],
    "mode": ["one", "all", "fixed"], "value": ["1", "50"], "lifetime": ["1h"], "schedule": ["@every 5m"],
    "spec": [A_SPEC], "steps": [[{"name": "kill", "kind": "PodChaos", "spec": A_SPEC}]],
    "container_names": [["app"]], "volume_path": ["/data"], "time_offset": ["-5m"],
    "attr": [{"perm": 292}], "proxy": ["llm"], "queue": ["orders"], "table": ["orders"],
    "role": ["app"], "fault": ["pod-delete"], "app_label": ["app=web"], "engine": ["engine-1"],
    "query": ["up"], "metric": ["http_requests_total"], "size": ["64M", "1K"], "workers": [1, 2],
    "load": [50], "rate_kbps": [100], "type": ["latency"], "listen": ["127.0.0.1:0"],
    "upstream": ["127.0.0.1:1"], "dependency": ["postgres"], "maxmemory": ["16mb"],
}  # fmt: skip
ACTIVITIES = published()

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
HOSTILE = st.sampled_from([None, "", "false", "true", " ", "nan", "inf", "-1", "0", 10**400, -(2**63),
                           2**53 + 1, float("nan"), float("inf"), -0.0, True, False, [], {}, [None],
                           {"": None}, "x" * 300, "\u202e", "../../etc", "$(id)"])  # fmt: skip
WORDS = st.sampled_from(["30s", "1s", "0s", "100ms", "-5s", "1h", "9999h", "1e400", "one", "all", "fixed",
                         "10", "50", "0.5", "app=web", "shop", "default", "256M", "16mb", "1G", "50%",
                         "allkeys-lru", "downstream", "upstream", "gateway", "recs", "load", "PodChaos",
                         "NetworkChaos", "@every 5m", "SIGKILL", "SIGTERM", "WRITE", "ALL", "Request",
                         "orders", "llm", "catalog:*", "*", "up", "rate(x[1m])", "max", "error",
                         "pod-kill", "127.0.0.1:1", "sandbox_llm_x", "to", "from", "/data", "-5m",
                         "delay"])  # fmt: skip


def _well_formed(hint: Any) -> st.SearchStrategy[Any]:
    """Values of ``hint``'s type, many of them meaningful to some activity."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _well_formed(typing.get_args(hint)[0])
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[_well_formed(arg) for arg in typing.get_args(hint)])
    if origin is list or hint is list:
        (item,) = typing.get_args(hint) or (Any,)
        return st.lists(_well_formed(item), min_size=1, max_size=3)
    if origin is dict or hint is dict:
        return st.just(A_SPEC) | st.dictionaries(WORDS, WORDS | JUNK, max_size=3)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        type(None): st.none(),
        bool: st.sampled_from([True, False, "true", "false", "FALSE"]),
        int: st.integers(-3, 3000) | st.from_regex(r"\A[0-9]{1,4}\Z") | st.just(1.0),
        float: st.floats(-2, 2000) | st.sampled_from(["0.5", "1e3"]),
        str: WORDS | WORDS | st.text(max_size=12),
    }  # fmt: skip
    return simple.get(hint, JUNK)


def _hostile(hint: Any) -> st.SearchStrategy[Any]:
    """Values an activity must refuse or survive: wrong types, huge, empty, nested junk."""
    origin = typing.get_origin(hint)
    if origin is list or hint is list:
        return st.lists(JUNK | HOSTILE, max_size=3) | HOSTILE
    return HOSTILE | JUNK


def _safe_values(package: str, tmp: Path, urls: dict[str, str]) -> dict[str, st.SearchStrategy[Any]]:
    """The arguments that choose a target, drawn only from values that reach nothing real."""
    junk_file = tmp / "junk.txt"
    junk_file.write_text("not a pid\nkind: [\n")
    manifest = tmp / "manifest.yaml"
    manifest.write_text("apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: x}\n"
                        "spec: {action: pod-kill, mode: one, duration: 30s, "
                        "selector: {namespaces: [shop]}}\n")  # fmt: skip
    files = st.sampled_from([str(junk_file), str(manifest), str(tmp / "missing"), 5, None])
    disk = tmp / "disk"
    disk.mkdir(exist_ok=True)
    safe: dict[str, st.SearchStrategy[Any]] = {
        "configuration": st.sampled_from([None, {}, dict(urls), {"blast_radius": "x"}, "x", [1]]),
        "secrets": st.sampled_from([None, {}, {"x": {"y": 1}}, "x"]),
        "slo_file": files,
        "path_or_manifest": files | JUNK.filter(lambda v: not isinstance(v, str))
        | st.sampled_from(["kind: PodChaos\n", "- a\n- b\n", "{", "42\n"]),
    }  # fmt: skip
    for key, url in urls.items():
        safe[key] = st.sampled_from([None, "", url, 5, [url]])
    if package == "process":
        safe["pattern"] = st.sampled_from([NO_PROCESS, None, "(", 5, [NO_PROCESS]])
        safe["pidfile"] = st.sampled_from([None, str(tmp / "missing.pid"), str(junk_file), 5])
    if package == "stress":
        safe["path"] = st.sampled_from([str(disk), str(tmp / "missing"), None, "", 5])
        safe["pid"] = st.sampled_from([None, NEVER_A_PID, "x", True, 1.5])
    return safe


def _arguments(func: Callable[..., Any], safe: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Arguments for ``func``: well-formed, but for one hostile argument (or, in some
    examples, hostile anywhere); optional arguments are often left out."""
    hints = typing.get_type_hints(func, include_extras=True)
    params = list(inspect.signature(func).parameters.values())

    def drawn(hostile: str | None) -> st.SearchStrategy[dict[str, Any]]:
        fields: dict[str, st.SearchStrategy[Any]] = {}
        for param in params:
            hint = hints.get(param.name, Any)
            optional = param.default is not inspect.Parameter.empty
            if param.name in safe:
                values = safe[param.name]
            elif hostile in (param.name, "*"):
                values = st.one_of(_hostile(hint), _well_formed(hint))
            elif param.name in MEANINGFUL:
                values, optional = st.sampled_from(MEANINGFUL[param.name]), False
            else:
                values = _well_formed(hint)
            if optional and hostile != param.name:  # left out: its default
                values = st.one_of(st.just(_LEFT_OUT), st.just(_LEFT_OUT), values)
            fields[param.name] = values
        return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not _LEFT_OUT})

    return st.sampled_from([None, "*", *[p.name for p in params]]).flatmap(drawn)


_LEFT_OUT = object()


@pytest.fixture
def closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, dict[str, str], Path]]:
    """Closed targets, and a stand-in stress-ng (first on PATH) that only sleeps."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "stress-ng"
    fake.write_text("#!/bin/sh\nsleep 20 &\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    with closed_port() as port:
        urls = aim_at_closed_port(port, tmp_path, monkeypatch)
        yield tmp_path, urls, fake


def _faults_in_force(fake: Path) -> list[int]:
    """PIDs of stand-in stress-ng runs still going."""
    return [proc.pid for proc in find(re.escape(str(fake)), None)]


def _recorded_pids() -> set[int]:
    pids = set()
    for entry in Ledger().entries().values():
        state = entry.get("state") if isinstance(entry, dict) else None
        if isinstance(state, dict) and isinstance(state.get("pid"), int):
            pids.add(state["pid"])
    return pids


def _clean_up() -> None:
    for entry_id in held_faults():
        release_held(entry_id)
    entries = Ledger().entries()
    cleanup()
    for entry_id, entry in entries.items():
        stop_healer(entry_id, entry)


@pytest.mark.parametrize("name,func", ACTIVITIES, ids=[n for n, _ in ACTIVITIES])
def test_an_activity_returns_or_raises_a_chaosllm_error_and_leaves_no_unrecorded_fault(
    name: str, func: Callable[..., Any], closed: tuple[Path, dict[str, str], Path]
) -> None:
    tmp, urls, fake = closed
    package = name.split(".")[1]
    strategy = _arguments(func, _safe_values(package, tmp, urls))

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(arguments=strategy)
    def run(arguments: dict[str, Any]) -> None:
        try:
            func(**arguments)
            event("returned")
        except ChaosLLMError as exc:
            event(type(exc).__name__)
        finally:
            in_force = set(_faults_in_force(fake)) - _recorded_pids()
            held = held_faults()
            _clean_up()
        assert not in_force, f"{name} left stress runs {sorted(in_force)} without a ledger entry"
        assert not held, f"{name} left held faults {held} behind"
        assert Ledger().entries() == {}, f"cleanup left {sorted(Ledger().entries())}"
        assert _faults_in_force(fake) == [], "a stress run survived cleanup"

    run()



def test_the_property_sees_a_run_left_without_an_entry(closed: tuple[Path, dict[str, str], Path]) -> None:
    """The ledger check can fail: a stress run started behind the ledger's back is found."""
    _, _, fake = closed
    proc = subprocess.Popen([str(fake)], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not _faults_in_force(fake) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert set(_faults_in_force(fake)) - _recorded_pids() == {proc.pid}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
