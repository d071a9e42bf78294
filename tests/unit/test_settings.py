"""The one settings lookup and secret redaction."""

from __future__ import annotations

import pytest

from chaosllm.errors import ConfigurationError
from chaosllm.settings import get_setting, redact, require_setting


def test_lookup_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLLM_REDIS_URL", "env")
    assert get_setting("redis_url", "arg", {"redis_url": "conf"}, {"redis_url": "secret"}) == "arg"
    assert get_setting("redis_url", None, {"redis_url": "conf"}, {"redis_url": "secret"}) == "secret"
    assert get_setting("redis_url", None, {"redis_url": "conf"}, {}) == "conf"
    assert get_setting("redis_url", None, None, None) == "env"
    monkeypatch.delenv("CHAOSLLM_REDIS_URL")
    assert get_setting("redis_url", None, None, None, default="d") == "d"


def test_require_setting_names_the_key_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSLLM_POSTGRES_DSN", raising=False)
    with pytest.raises(ConfigurationError, match="postgres_dsn.*CHAOSLLM_POSTGRES_DSN"):
        require_setting("postgres_dsn")


def test_redact_hides_passwords() -> None:
    assert redact("redis://:hunter2@h:1/0") == "redis://:***@h:1/0"
    assert "hunter2" not in redact("postgresql://u:hunter2@h/db")
    assert "hunter2" not in redact("host=h password=hunter2 dbname=x")
    assert redact("http://h:9090") == "http://h:9090"
