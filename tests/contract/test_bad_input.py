"""Bad input is refused before anything changes: the reproductions of the review.

Every target is a closed loopback port (tests/closed_targets.py), so a call
that got past its checks would fail later, with TargetUnreachable or
TargetNotFound; these tests require InvalidArgument, raised first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosllm.chaosmesh import actions as chaosmesh
from chaosllm.errors import InvalidArgument, TargetNotFound, TargetUnreachable
from chaosllm.faults import Ledger
from chaosllm.postgres import actions as postgres
from chaosllm.process import actions as process
from chaosllm.proxy import actions as proxy
from chaosllm.rabbitmq import actions as rabbitmq
from chaosllm.redis import actions as redis
from chaosllm.stress import actions as stress
from tests.closed_targets import aim_at_closed_port, closed_port

NO_PROCESS = "chaosllm-no-such-process-7c1e4b"
POD_CHAOS = {"action": "pod-kill", "mode": "one", "selector": {"labelSelectors": {"app": "web"}}}
HUGE = 10**400


@pytest.fixture(autouse=True)
def _closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with closed_port() as port:
        aim_at_closed_port(port, tmp_path, monkeypatch)
        yield
    assert Ledger().entries() == {}, "a refused call recorded a fault"


def _refused(call: Callable[[], Any], match: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument, match=match) as info:
        call()
    return info.value


UNBOUNDED_BY_A_STRING: dict[str, Callable[[Any], Any]] = {
    "set_queue_limit": lambda flag: rabbitmq.set_queue_limit("orders", duration=None, allow_unbounded=flag),
    "inject_latency": lambda flag: proxy.inject_latency("llm", duration=None, allow_unbounded=flag),
    "disable_proxy": lambda flag: proxy.disable_proxy("llm", duration=None, allow_unbounded=flag),
    "suspend_processes": lambda flag: process.suspend_processes(pattern=NO_PROCESS, duration=None,
                                                                allow_unbounded=flag),
    "inject_network_delay": lambda flag: chaosmesh.inject_network_delay(
        label_selectors="app=web", duration=None, allow_unbounded=flag),
}  # fmt: skip


@pytest.mark.parametrize("action", sorted(UNBOUNDED_BY_A_STRING))
@pytest.mark.parametrize("flag", ["false", "False", " FALSE "])
def test_the_string_false_does_not_allow_an_unbounded_fault(action: str, flag: str) -> None:
    _refused(lambda: UNBOUNDED_BY_A_STRING[action](flag), "duration is required")


@pytest.mark.parametrize("action", sorted(UNBOUNDED_BY_A_STRING))
def test_the_string_true_allows_it(action: str) -> None:
    # Past the duration check: the closed target (or the absent process) answers.
    with pytest.raises((TargetUnreachable, TargetNotFound)):
        UNBOUNDED_BY_A_STRING[action]("true")


@pytest.mark.parametrize("flag", ["no", "0", "", "yes", 0, 1, None, [], {"x": 1}])
def test_anything_else_is_not_a_boolean(flag: Any) -> None:
    error = _refused(lambda: UNBOUNDED_BY_A_STRING["inject_latency"](flag),
                     "inject_latency: argument allow_unbounded must be true or false")
    assert "duration" not in str(error)


@pytest.mark.parametrize("signal", ["SIGSTOP", "SIGTSTP", "STOP", "sigtstp", "SIGTTIN", "SIGTTOU"])
def test_kill_processes_refuses_stop_signals_and_points_to_suspend(signal: str) -> None:
    _refused(lambda: process.kill_processes(pattern=NO_PROCESS, signal=signal), "use suspend_processes")


@pytest.mark.parametrize("signal", [19, "19", 19.0])
def test_a_signal_number_is_refused(signal: Any) -> None:
    _refused(lambda: process.kill_processes(pattern=NO_PROCESS, signal=signal), "signal")


def test_kill_processes_still_takes_sigkill_and_sigterm() -> None:
    for signal in ("SIGKILL", "term", "SIGINT"):
        with pytest.raises(TargetNotFound):
            process.kill_processes(pattern=NO_PROCESS, signal=signal)


ALLOW_MAXMEMORY = {"blast_radius": {"redis": {"allow_maxmemory": True}}}


@pytest.mark.parametrize("maxmemory", [10**30, str(10**30), "99999999999gb", "8589934592gb", "1" * 400])
def test_maxmemory_beyond_redis_range_is_refused_before_any_change(maxmemory: Any) -> None:
    _refused(lambda: redis.limit_memory(maxmemory=maxmemory, configuration=ALLOW_MAXMEMORY), "maxmemory")


def test_maxmemory_within_range_reaches_the_server() -> None:
    with pytest.raises(TargetUnreachable):
        redis.limit_memory(maxmemory="8388607gb", configuration=ALLOW_MAXMEMORY)


def test_an_empty_namespace_is_refused_not_taken_as_default() -> None:
    _refused(lambda: chaosmesh.kill_pods(namespace="", label_selectors="app=web", duration="30s"),
             "namespace '' is not a namespace name")


@pytest.mark.parametrize("namespaces", [["shop", None], ["shop", ""], ["shop", True]])
def test_namespaces_must_all_be_names(namespaces: list[Any]) -> None:
    _refused(lambda: chaosmesh.kill_pods(namespaces=namespaces, label_selectors="app=web", duration="30s"),
             r"namespace")


def test_a_selector_namespace_must_be_a_name() -> None:
    _refused(lambda: chaosmesh.kill_pods(selector={"namespaces": ["shop", ""]}, duration="30s"),
             "selector namespace '' is not a namespace name")


HUGE_DURATION: dict[str, Callable[[], Any]] = {
    "pause_clients": lambda: redis.pause_clients(duration=HUGE),
    "limit_memory": lambda: redis.limit_memory(duration=HUGE),
    "exhaust_connections": lambda: postgres.exhaust_connections(duration=HUGE),
    "lock_table": lambda: postgres.lock_table("orders", duration=HUGE),
    "set_statement_timeout": lambda: postgres.set_statement_timeout("app", duration=HUGE),
    "set_queue_limit": lambda: rabbitmq.set_queue_limit("orders", duration=HUGE),
    "suspend_processes": lambda: process.suspend_processes(pattern=NO_PROCESS, duration=HUGE),
    "inject_latency": lambda: proxy.inject_latency("llm", duration=HUGE),
    "stress_cpu": lambda: stress.stress_cpu(duration=HUGE),
    "kill_pods": lambda: chaosmesh.kill_pods(label_selectors="app=web", duration=HUGE),
}


@pytest.mark.parametrize("action", sorted(HUGE_DURATION))
def test_a_400_digit_integer_duration_is_invalid_not_an_overflow(action: str) -> None:
    _refused(HUGE_DURATION[action], f"{action}: argument duration must be a string")


BAD_INTEGER: dict[str, Callable[[Any], Any]] = {
    "kill_pods grace_period": lambda v: chaosmesh.kill_pods(grace_period=v, duration="30s"),
    "stress_cpu workers": lambda v: chaosmesh.stress_cpu(workers=v, duration="30s"),
    "inject_http_fault port": lambda v: chaosmesh.inject_http_fault(port=v, abort=True, duration="30s"),
    "schedule_chaos history_limit": lambda v: chaosmesh.schedule_chaos(
        "PodChaos", POD_CHAOS, "@every 5m", duration="10s", lifetime="1h", history_limit=v),
    "schedule_chaos starting_deadline_seconds": lambda v: chaosmesh.schedule_chaos(
        "PodChaos", POD_CHAOS, "@every 5m", duration="10s", lifetime="1h", starting_deadline_seconds=v),
}  # fmt: skip


@pytest.mark.parametrize("value", ["x", [], {}, "1.5", 1.5, True, HUGE, float("nan"), "9" * 30])
@pytest.mark.parametrize("argument", sorted(BAD_INTEGER))
def test_a_bad_integer_is_invalid_not_a_value_error(argument: str, value: Any) -> None:
    action, name = argument.split()
    _refused(lambda: BAD_INTEGER[argument](value), f"{action}: argument {name} must be")


@pytest.mark.parametrize("argument", sorted(BAD_INTEGER))
def test_an_integer_given_as_a_string_is_parsed_once(argument: str) -> None:
    with pytest.raises(TargetUnreachable):
        BAD_INTEGER[argument]("5")


@pytest.mark.parametrize("value", [-1, 65536, 0])
def test_a_port_outside_its_range_is_refused(value: int) -> None:
    _refused(lambda: BAD_INTEGER["inject_http_fault port"](value), "port must be between 1 and 65535")


@pytest.mark.parametrize("text", ["hello\n", "- a\n- b\n", "42\n", "kind: PodChaosList\nitems: [1]\n"])
def test_apply_manifest_refuses_a_document_that_is_not_an_object(text: str, tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    _refused(lambda: chaosmesh.apply_manifest(str(path)), "must be a mapping")
    _refused(lambda: chaosmesh.apply_manifest(text), "must be a mapping")


def test_apply_manifest_refuses_a_list_of_strings() -> None:
    _refused(lambda: chaosmesh.apply_manifest(["a", "b"]), r"path_or_manifest\[0\] must be a mapping")


def test_the_blast_radius_renderer_checks_arguments_too() -> None:
    _refused(lambda: chaosmesh.RENDERERS["kill_pods"](grace_period="x", duration="30s"), "grace_period")
    _refused(lambda: chaosmesh.RENDERERS["schedule_chaos"](kind="PodChaos", spec=POD_CHAOS,
                                                            schedule="@every 5m", history_limit="x"),
             "history_limit")


@pytest.mark.parametrize("attributes", [[1], "latency=5", 5])
def test_inject_toxic_attributes_must_be_a_mapping(attributes: Any) -> None:
    _refused(lambda: proxy.inject_toxic("llm", "latency", attributes=attributes),
             "inject_toxic: argument attributes must be a mapping")


def test_fill_disk_needs_a_path(tmp_path: Path) -> None:
    _refused(lambda: stress.fill_disk(path=None), "fill_disk: argument path must be a string")  # type: ignore[arg-type]


def test_a_workflow_status_check_count_must_be_an_integer() -> None:
    step = {"name": "kill", "kind": "PodChaos", "spec": POD_CHAOS}
    _refused(lambda: chaosmesh.create_workflow([step], duration="1m",
                                               status_check={"url": "http://x", "interval_seconds": "x"}),
             "status_check.interval_seconds must be an integer")


def test_an_unknown_argument_is_invalid_naming_the_activity() -> None:
    _refused(lambda: redis.flush_keys(pattern="x:*", colour="blue"), "flush_keys: .*colour")


def test_a_url_is_never_quoted_in_an_argument_error() -> None:
    error = _refused(lambda: redis.flush_keys(pattern="x:*", redis_url=["redis://:hunter2@db/0"]),
                     "redis_url must be a string")
    assert "hunter2" not in str(error)
