"""No implicit proxy API, the application blast-radius policy and the dry run, on a private proxy server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chaosllm.errors import ConfigurationError, PolicyViolation
from chaosllm.faults import Ledger
from chaosllm.proxy import actions, probes
from tests.proxy.conftest import Api


def _proxy_state(api: Api, name: str) -> Any:
    _, body = api.call("GET", f"/proxies/{name}")
    return body["enabled"], body.get("toxics")


@pytest.mark.parametrize("call", [
    lambda name: actions.inject_latency(proxy=name, latency="100ms"),
    lambda name: actions.disable_proxy(name),
    lambda name: actions.reset_proxies(),
    lambda name: actions.create_proxy("other", "127.0.0.1:0", "127.0.0.1:1"),
    lambda name: probes.list_proxies(),
    lambda name: probes.is_available(),
])  # fmt: skip
def test_no_proxy_api_configured_is_refused_and_changes_nothing(
    api: Api, make_proxy: Callable[..., tuple[str, int]], monkeypatch: pytest.MonkeyPatch, call: Any
) -> None:
    monkeypatch.delenv("CHAOSLLM_PROXY_API_URL", raising=False)
    name, _ = make_proxy()
    before = _proxy_state(api, name)
    with pytest.raises(ConfigurationError, match="proxy_api_url.*CHAOSLLM_PROXY_API_URL"):
        call(name)
    assert _proxy_state(api, name) == before and Ledger().entries() == {}


@pytest.mark.parametrize(("rules", "rule"), [
    ({"proxies": ["sandbox-*"]}, "blast_radius.proxy.proxies"),
    ({"allowed_targets": ["10.0.0.1:8474"]}, "blast_radius.proxy.allowed_targets"),
])
def test_policy_refuses_before_any_change(
    api: Api, make_proxy: Callable[..., tuple[str, int]], rules: Any, rule: str
) -> None:
    name, _ = make_proxy()
    config = {"proxy_api_url": api.url, "blast_radius": {"proxy": rules}}
    before = _proxy_state(api, name)
    with pytest.raises(PolicyViolation, match=rule):
        actions.inject_latency(proxy=name, latency="100ms", configuration=config)
    with pytest.raises(PolicyViolation, match=rule):
        actions.disable_proxy(name, configuration=config)
    assert _proxy_state(api, name) == before and Ledger().entries() == {}


def test_dry_run_previews_and_changes_nothing(api: Api, make_proxy: Callable[..., tuple[str, int]]) -> None:
    name, _ = make_proxy()
    config = {"proxy_api_url": api.url, "dry_run": "1"}
    before = _proxy_state(api, name)
    latency = actions.inject_latency(proxy=name, latency="100ms", configuration=config)
    assert latency["dry_run"] is True and latency["effect"] == "none"
    assert latency["would_touch"]["exists"] is True and latency["would_touch"]["toxics"] == []
    assert actions.disable_proxy(name, configuration=config)["would_touch"]["enabled"] is True
    assert _proxy_state(api, name) == before and Ledger().entries() == {}
