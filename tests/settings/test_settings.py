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


# What either redactor hid before they became one: both entry points hide all of it.
UNION = [
    ("redis://app:hunter2@cache:6379/0", "hunter2", "redis://app:***@cache:6379/0"),
    ("host=db user=app password=hunter2 dbname=shop", "hunter2", "host=db user=app password=*** dbname=shop"),
    ("GET /v1 Authorization: Bearer tok-4242 sent", "tok-4242", "GET /v1 Authorization: Bearer *** sent"),
    ("https://api.example/v1?api_key=k-123", "k-123", "https://api.example/v1?api_key=***"),
    ("postgresql://u:p@ss@db/shop", "p@ss", "postgresql://u:***@db/shop"),
    ("host=db password='s3 cr3t' dbname=shop", "s3 cr3t", "host=db password=*** dbname=shop"),
]


@pytest.mark.parametrize("entry", ["settings", "report"])
@pytest.mark.parametrize(("text", "secret", "shown"), UNION, ids=[t for t, _, _ in UNION])
def test_both_redactors_hide_the_union(entry: str, text: str, secret: str, shown: str) -> None:
    from chaosllm.report.model import redact as report_redact

    hide = redact if entry == "settings" else report_redact
    assert hide(text) == shown
    assert secret not in hide(text)


def test_redact_url_keeps_its_url_rules() -> None:
    assert redact("http://[::1") == "<unparseable url>"
    assert redact("amqp://guest:guest@mq:5672/%2F") == "amqp://guest:***@mq:5672/%2F"
    assert redact("max_tokens=100 passwordless=true") == "max_tokens=100 passwordless=true"
