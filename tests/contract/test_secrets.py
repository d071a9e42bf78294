"""A password in a Redis URL appears in no result, error, ledger description,
``chaosllm cleanup`` output, journal or log."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosllm.errors import ConfigurationError
from chaosllm.faults import Ledger
from chaosllm.redis import actions
from chaosllm.sandbox.app import launcher
from tests.chaos_run import CHAOSLLM, chaos_env, run_experiment
from tests.conftest import _start

PASSWORD = "S3cretRedisPw"


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[launcher.Server]:
    server = _start(launcher.start_redis, tmp_path_factory.mktemp("redis-auth"), password=PASSWORD)
    yield server
    server.stop()


def test_password_is_in_no_result_error_or_cleanup_output(
    private_redis: launcher.Server, tmp_path: Path
) -> None:
    url = private_redis.url
    assert PASSWORD in url
    allow = {"blast_radius": {"redis": {"allow_maxmemory": True}}}
    handle = actions.limit_memory("8mb", duration="5m", redis_url=url, configuration=allow)
    assert handle["target"] == f"redis 127.0.0.1:{private_redis.port}"
    entries = Ledger().entries()
    assert len(entries) == 1
    (entry_id, entry), = entries.items()
    shown = json.dumps(handle) + entry_id + entry["description"]
    # The wrong password and no password at all are refused without quoting either URL.
    for bad in (url.replace(PASSWORD, PASSWORD + "x"), url.replace(f":{PASSWORD}@", "")):
        with pytest.raises(ConfigurationError, match="refused the credentials") as info:
            actions.flush_keys("nothing:*", redis_url=bad)
        shown += str(info.value)
        assert "could not flush keys on redis 127.0.0.1" in str(info.value)
    cleanup = subprocess.run([*CHAOSLLM, "cleanup", "--json"], capture_output=True, text=True,
                             timeout=60, env=chaos_env())
    assert cleanup.returncode == 0, cleanup.stderr
    assert "restored maxmemory@redis 127.0.0.1" in cleanup.stderr
    assert json.loads(cleanup.stdout) == {"restored": 1, "failed": 0}
    shown += cleanup.stdout + cleanup.stderr
    assert PASSWORD not in shown
    assert Ledger().entries() == {}
    assert actions.restore_memory(redis_url=url)["removed"] is False


def test_password_is_in_no_journal_or_log(private_redis: launcher.Server, tmp_path: Path) -> None:
    url = private_redis.url
    wrong = url.replace(PASSWORD, PASSWORD + "x")

    def action(name: str, func: str, key: str, **arguments: str) -> dict[str, object]:
        return {"type": "action", "name": name,
                "provider": {"type": "python", "module": "chaosllm.redis.actions", "func": func,
                             "arguments": arguments, "secrets": [key]}}

    experiment = {
        "title": "redis with a password",
        "description": "limit memory, fail once with a wrong password, restore",
        "configuration": {"blast_radius": {"redis": {"allow_maxmemory": True}}},
        "secrets": {"good": {"redis_url": {"type": "env", "key": "TEST_REDIS_URL"}},
                    "bad": {"redis_url": {"type": "env", "key": "TEST_REDIS_WRONG_URL"}}},
        "method": [action("squeeze", "limit_memory", "good", maxmemory="8mb", duration="5m"),
                   action("wrong-password", "flush_keys", "bad", pattern="nothing:*")],
        "rollbacks": [action("restore", "restore_memory", "good")],
    }
    proc, journal = run_experiment(
        experiment, tmp_path, env={"TEST_REDIS_URL": url, "TEST_REDIS_WRONG_URL": wrong},
        extra_args=("--rollback-strategy", "always"),
    )
    runs = journal["run"] + journal["rollbacks"]
    assert [r["status"] for r in runs] == ["succeeded", "failed", "succeeded"], proc.stderr
    assert journal["rollbacks"][0]["output"]["removed"] is True
    log = (tmp_path / "chaostoolkit.log").read_text()
    assert "could not flush keys on redis 127.0.0.1" in log
    for text in (json.dumps(journal), log, proc.stdout, proc.stderr):
        assert PASSWORD not in text
