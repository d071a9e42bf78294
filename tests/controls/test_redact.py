"""The redact control on journals of its own (a real ``chaos run`` is in
tests/contract/test_secret_outputs.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from chaoslib.exceptions import InvalidActivity

from chaosllm.controls import redact

TOKEN = "tok-0123456789"


def _journal() -> dict[str, Any]:
    experiment = {
        "title": f"run with {TOKEN}",
        "configuration": {"redis_url": "redis://app:CfgPassw0rd@cache:6379/0", "max_tokens": 64},
        "secrets": {"prom": {"prometheus_bearer_token": TOKEN,
                             "from_env": {"type": "env", "key": "PROM_TOKEN"}},
                    "odd": "not a scope"},
        "method": [{"type": "probe", "name": "p", "provider": {
            "type": "python", "module": "m", "func": "f",
            "arguments": {"dsn": "host=db password=Hunter2xyz", "limit": 3}}}],
    }
    return {
        "experiment": experiment,
        "run": [{"activity": experiment["method"][0], "status": "failed",
                 "output": {"tokens_per_second": 41.5, "echo": f"Authorization: Bearer {TOKEN}"},
                 "exception": [f"ValueError: server said {TOKEN}\n"]}],
        "rollbacks": [],
        "steady_states": {"before": None, "after": None, "during": []},
    }


def test_the_journal_gets_a_redacted_copy_and_the_run_keeps_its_experiment() -> None:
    journal = _journal()
    experiment = journal["experiment"]
    before = copy.deepcopy(experiment)
    redact.after_experiment_control(experiment, state=journal,
                                    secrets={"prom": {"prometheus_bearer_token": TOKEN}},
                                    configuration=experiment["configuration"])
    assert experiment == before  # what the run (and its rollbacks) use is untouched
    shown = journal["experiment"]
    assert shown["title"] == "run with ***"
    assert shown["secrets"] == {"prom": {"prometheus_bearer_token": "***",
                                         "from_env": {"type": "env", "key": "PROM_TOKEN"}},
                                "odd": "***"}
    assert shown["configuration"]["redis_url"] == "redis://app:***@cache:6379/0"
    assert shown["method"][0]["provider"]["arguments"] == {"dsn": "host=db password=***", "limit": 3}
    run = journal["run"][0]
    # Outputs keep their fields (a key that looks secret is a measurement here); values are masked.
    assert run["output"] == {"tokens_per_second": 41.5, "echo": "Authorization: Bearer ***"}
    assert run["exception"] == ["ValueError: server said ***\n"]
    text = json.dumps(journal)
    assert TOKEN not in text and "CfgPassw0rd" not in text and "Hunter2xyz" not in text


def test_short_values_are_masked_where_declared_but_not_searched_for() -> None:
    assert redact.known_secrets({"s": {"a": "pw", "b": "longer-secret"}}) == {"longer-secret"}
    journal = {"experiment": {"title": "pw", "secrets": {"s": {"a": "pw"}}}}
    redact.redact_journal(journal, {"s": {"a": "pw"}})
    assert journal["experiment"] == {"title": "pw", "secrets": {"s": {"a": "***"}}}


def test_a_journal_it_cannot_walk_is_written_without_its_parts_and_marked_interrupted() -> None:
    deep: Any = "leaf"
    for _ in range(100_000):
        deep = [deep]
    journal = {"status": "completed", "experiment": {"title": "deep", "method": deep},
               "run": [{"output": "Bearer t-123456"}]}
    redact.after_experiment_control(journal["experiment"], state=journal)
    assert journal["experiment"]["title"] == "***"
    assert "could not redact" in journal["experiment"]["redacted"]
    assert "could not redact" in journal["run"]
    assert journal["status"] == "interrupted"
    assert any(e.get("name") == "chaosllm-failclosed" for e in journal.get("extensions", []))


def test_arguments_are_refused() -> None:
    control = {"name": "r", "provider": {"type": "python", "module": "chaosllm.controls.redact",
                                         "arguments": {"keys": ["x"]}}}
    with pytest.raises(InvalidActivity, match="takes no arguments"):
        redact.validate_control(control)


def test_the_log_filter_masks_records_from_set_up_to_clean_up() -> None:
    import io
    import logging

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("chaostoolkit")
    logger.addHandler(handler)
    try:
        redact.configure_control(experiment={"secrets": {}}, secrets={"s": {"token": TOKEN}})
        logger.error(f"failed: {TOKEN} rejected")
        try:
            raise ValueError(f"bad {TOKEN}")
        except ValueError:
            logger.error("with a traceback", exc_info=True)
        redact.cleanup_control()
        assert handler.filters == []
        logger.error(f"after: {TOKEN}")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "failed: *** rejected" in text and "ValueError: bad ***" in text
    assert text.count(TOKEN) == 1 and f"after: {TOKEN}" in text  # only once the run is over
