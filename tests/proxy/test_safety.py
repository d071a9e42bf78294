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


@pytest.mark.parametrize(("rules", "rule"), [
    ({"proxies": ["sandbox-*"]}, "blast_radius.proxy.proxies"),
    ({"allowed_targets": ["10.0.0.1:8474"]}, "blast_radius.proxy.allowed_targets"),
])
def test_creating_deleting_and_resetting_proxies_are_covered(
    api: Api, make_proxy: Callable[..., tuple[str, int]], rules: Any, rule: str
) -> None:
    name, _ = make_proxy()
    api.call("POST", f"/proxies/{name}/toxics", {"name": "slow", "type": "latency",
                                                 "attributes": {"latency": 100}})  # fmt: skip
    config = {"proxy_api_url": api.url, "blast_radius": {"proxy": rules}}
    before = _proxy_state(api, name)
    with pytest.raises(PolicyViolation, match=f"create_proxy on proxy .*{rule}"):
        actions.create_proxy("other", "127.0.0.1:0", "127.0.0.1:1", configuration=config)
    with pytest.raises(PolicyViolation, match=f"delete_proxy on proxy .*{rule}"):
        actions.delete_proxy(name, configuration=config)
    with pytest.raises(PolicyViolation, match=f"reset_proxies on proxy .*{rule}"):
        actions.reset_proxies(configuration=config)
    _, proxies = api.call("GET", "/proxies")
    assert sorted(proxies) == [name] and _proxy_state(api, name) == before


def test_a_reset_is_refused_unless_every_proxy_is_allowed(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    make_proxy("sandbox-a")
    config = {"proxy_api_url": api.url, "blast_radius": {"proxy": {"proxies": ["sandbox-*"]}}}
    with pytest.raises(PolicyViolation, match=r"every proxy: '\*' is not in blast_radius.proxy.proxies"):
        actions.reset_proxies(configuration=config)
    assert actions.create_proxy("sandbox-b", "127.0.0.1:0", "127.0.0.1:1", configuration=config)["name"] == (
        "sandbox-b")
    assert actions.delete_proxy("sandbox-b", configuration=config)["removed"] is True
    config["blast_radius"]["proxy"]["proxies"] = ["*"]
    assert actions.reset_proxies(configuration=config)["reset"] is True


def test_the_controls_policy_argument_reaches_the_actions(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    from chaosllm.controls.blast_radius import configure_control

    name, _ = make_proxy()
    configuration: dict[str, Any] = {"proxy_api_url": api.url}
    configure_control(policy={"proxy": {"proxies": ["sandbox-*"]}}, configuration=configuration)
    before = _proxy_state(api, name)
    with pytest.raises(PolicyViolation, match="proxies.*the blast-radius control's policy argument"):
        actions.inject_latency(proxy=name, latency="100ms", configuration=dict(configuration))
    with pytest.raises(PolicyViolation, match="blast_radius.proxy.proxies"):
        actions.disable_proxy(name, configuration=dict(configuration))
    assert _proxy_state(api, name) == before and Ledger().entries() == {}


def test_a_dry_run_creates_deletes_and_resets_nothing(
    api: Api, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    name, _ = make_proxy()
    api.call("POST", f"/proxies/{name}/toxics", {"name": "slow", "type": "latency",
                                                 "attributes": {"latency": 100}})  # fmt: skip
    config = {"proxy_api_url": api.url, "dry_run": True}
    before = _proxy_state(api, name)
    created = actions.create_proxy("other", "127.0.0.1:0", "127.0.0.1:1", configuration=config)
    assert created["dry_run"] is True and created["would_touch"]["exists"] is False
    deleted = actions.delete_proxy(name, configuration=config)
    assert deleted["dry_run"] is True and deleted["would_touch"]["toxics"] == ["slow"]
    reset = actions.reset_proxies(configuration=config)
    assert reset["dry_run"] is True
    assert reset["would_touch"] == {"proxies": [name], "disabled": [], "toxics": 1}
    _, proxies = api.call("GET", "/proxies")
    assert sorted(proxies) == [name] and _proxy_state(api, name) == before and Ledger().entries() == {}
