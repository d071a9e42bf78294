"""JUnit XML, read back with junitparser as CI tools read it."""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml

from chaosllm.report.junit import render_junit
from chaosllm.report.model import load_journal, parse_journal
from tests.report.conftest import SAMPLES, sample

NAMES = ["redis-pause", "redis-flush-deviated", "plain-steady-state-failed", "plain-interrupted",
         "guard-aborted", "plain-process-completed", "k8s-recovery-failed", "effect-none",
         "not-applicable-before"]  # fmt: skip


def parsed(tmp_path: Path, journals: list) -> JUnitXml:  # type: ignore[type-arg]
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(journals), encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def outcomes(suite) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    for case in suite:
        kinds = {type(r).__name__ for r in case.result}
        out[case.name] = ("error" if "Error" in kinds else "failure" if "Failure" in kinds
                          else "skipped" if "Skipped" in kinds else "ok")  # fmt: skip
    return out


def test_one_suite_per_journal_with_the_right_failures_and_errors(tmp_path: Path) -> None:
    xml = parsed(tmp_path, [load_journal(SAMPLES / f"{n}.json") for n in NAMES])
    suites = {suite.name: suite for suite in xml}
    assert len(suites) == len(NAMES)

    # An older journal: every criterion passed, the fault's effect is unknown (skipped).
    ok = suites["Catalog cache survives a Redis client pause"]
    assert (ok.tests, ok.failures, ok.errors) == (7, 0, 0)
    assert [v for k, v in outcomes(ok).items() if k.startswith("fault effect: pause-redis")] == ["skipped"]
    assert set(outcomes(ok).values()) == {"ok", "skipped"}

    deviated = outcomes(suites["Cache eviction storm is absorbed"])
    assert deviated == {"before: catalog-keys": "ok", "before: few-clients": "ok",
                        "flush-catalog": "ok", "after: catalog-keys": "failure",
                        "fault effect: flush-catalog": "ok"}  # fmt: skip

    recovery = outcomes(suites["Gateway pod crash recovery (Kubernetes)"])
    assert recovery == {"before: gateway-ready": "ok", "kill-gateway-pod": "ok",
                        "method: gateway-recovers": "error", "after: gateway-ready": "ok",
                        "fault effect: kill-gateway": "ok"}  # fmt: skip
    assert outcomes(suites["Cache flush that matched no key"])["fault effect: flush-cold-keys"] == "failure"
    breaker = outcomes(suites["Breaker opens when the database is unreachable"])
    assert breaker["before: database-breaker-opens-when-unreachable"] == "skipped"
    assert breaker["after: database-breaker-opens-when-unreachable"] == "ok"

    failed = suites["Steady state not met before the method"]
    assert (failed.tests, failed.failures, failed.errors) == (1, 1, 0)

    interrupted = outcomes(suites["Long maintenance window"])
    assert interrupted["long-maintenance"] == "error"
    assert interrupted["experiment interrupted"] == "error"
    assert interrupted["drain-node"] == "ok"

    aborted = suites["Queue backlog guard stops a long fault"]
    case = next(c for c in aborted if c.name == "experiment aborted")
    [error] = case.result
    assert isinstance(error, Error) and "queue backlog > 10000" in (error.message or "")
    assert "queue backlog" in (case.system_out or "")

    completed = outcomes(suites["Réplica de caché — 缓存 warm-up check"])
    assert completed["stat-missing-file"] == "error" and completed["warm-up"] == "ok"


def test_suite_and_case_names_are_unique(tmp_path: Path) -> None:
    raw = sample("redis-pause")
    raw["run"].append(raw["run"][1])  # the same probe twice in the method
    first, second = parse_journal(raw, "a/run.json"), parse_journal(raw, "b/run-2.json")
    xml = parsed(tmp_path, [first, second, first])
    names = [suite.name for suite in xml]
    assert len(set(names)) == 3 and names[1].endswith("(run-2)")
    cases = [case.name for case in next(iter(xml))]
    assert len(cases) == len(set(cases)) and "method: connected-clients #2" in cases


def test_deviation_failure_carries_observed_value_and_threshold(tmp_path: Path) -> None:
    xml = parsed(tmp_path, [load_journal(SAMPLES / "redis-flush-deviated.json")])
    [suite] = list(xml)
    case = next(c for c in suite if c.name == "after: catalog-keys")
    [failure] = case.result
    assert isinstance(failure, Failure)
    assert failure.message == "catalog-keys: observed 0, expected in [50, 1000]"
    assert "observed: 0" in (case.system_out or "")


def test_control_characters_and_markup_stay_valid_xml(tmp_path: Path) -> None:
    raw = sample("plain-process-completed")
    raw["run"][0]["output"] = {"stdout": "\x1b[31mred\x00 <b>&amp;</b> ]]>", "status": 0}
    raw["experiment"]["title"] = "bell\x07 <x>"
    xml = parsed(tmp_path, [parse_journal(raw)])
    [suite] = list(xml)
    assert suite.name == "bell\ufffd <x>"
    case = next(c for c in suite if c.name == "warm-up")
    assert "<b>&amp;</b> ]]>" in (case.system_out or "")


def test_500_activities(tmp_path: Path) -> None:
    xml = parsed(tmp_path, [load_journal(SAMPLES / "plain-500-activities.json")])
    [suite] = list(xml)
    assert suite.tests == 2 + 498 and suite.failures == 0 and suite.errors == 0


def test_unknown_status_adds_an_error_case(tmp_path: Path) -> None:
    raw = sample("redis-pause")
    raw["status"] = "bogus"
    [suite] = list(parsed(tmp_path, [parse_journal(raw)]))
    assert suite.errors == 1
    case = next(c for c in suite if c.name == "experiment failed")
    [error] = case.result
    assert isinstance(error, Error) and "unexpected journal status 'bogus'" in (error.message or "")
