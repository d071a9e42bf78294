"""Real Toxiproxy clients against ``chaosllm proxy serve``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.proxy.conftest import Api, EchoServer, connect, recv_exactly


@pytest.fixture
def toxiproxy_client(api: Api) -> Iterator[object]:
    toxiproxy = pytest.importorskip("toxiproxy")
    server = toxiproxy.Toxiproxy()
    parts = urlsplit(api.url)
    server.update_api_consumer(parts.hostname, parts.port)
    yield server


def test_toxiproxy_python_drives_the_proxy(toxiproxy_client: object, echo: EchoServer) -> None:
    from toxiproxy.exceptions import NotFound, ProxyExists

    server = toxiproxy_client
    assert server.running()  # type: ignore[attr-defined]
    assert b"chaosllm" in server.version()  # type: ignore[attr-defined]
    proxy = server.create(upstream=echo.address, name="tp", listen="127.0.0.1:0")  # type: ignore[attr-defined]
    port = int(proxy.listen.rsplit(":", 1)[1])
    assert port > 0 and proxy.enabled is True
    with pytest.raises(ProxyExists):
        server.create(upstream=echo.address, name="tp")  # type: ignore[attr-defined]
    assert set(server.proxies()) == {"tp"}  # type: ignore[attr-defined]

    proxy.add_toxic(type="latency", attributes={"latency": 300})
    toxic = proxy.get_toxic("latency_downstream")
    assert toxic is not None and toxic.attributes == {"latency": 300, "jitter": 0}
    with connect(port) as sock:
        import time

        start = time.monotonic()
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        assert time.monotonic() - start >= 0.29
    assert proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}

    with proxy.down():
        assert server.get_proxy("tp").enabled is False  # type: ignore[attr-defined]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert server.get_proxy("tp").enabled is True  # type: ignore[attr-defined]

    proxy.add_toxic(type="timeout", name="hole", stream="upstream", attributes={"timeout": 0})
    assert server.reset()  # type: ignore[attr-defined]
    assert proxy.toxics() == {}
    with pytest.raises(NotFound):
        proxy.destroy_toxic("hole")
    server.destroy_all()  # type: ignore[attr-defined]
    assert server.proxies() == {}  # type: ignore[attr-defined]


def test_chaostoolkit_toxiproxy_actions(api: Api, echo: EchoServer) -> None:
    pytest.importorskip("chaostoxi")
    from chaostoxi.proxy import actions as proxy_actions
    from chaostoxi.proxy import probes as proxy_probes
    from chaostoxi.toxic import actions as toxic_actions

    configuration: dict[str, object] = {"toxiproxy_url": api.url}
    upstream_host, upstream_port = echo.address.split(":")
    assert proxy_actions.create_proxy("ctk", upstream_host, int(upstream_port),
                                      listen_host="127.0.0.1", configuration=configuration)
    port = int(str(configuration["ctk_PORT"]))
    assert proxy_probes.proxy_exist("ctk", configuration)
    assert proxy_probes.get_proxy_attribute("ctk", "upstream", configuration) == echo.address

    assert toxic_actions.create_limiter_toxic("ctk", "cap", 5, configuration=configuration)
    with connect(port) as sock:
        sock.sendall(b"0123456789")
        assert recv_exactly(sock, 10) == b"01234"
    assert toxic_actions.delete_toxic("ctk", "cap", configuration=configuration)
    assert toxic_actions.create_latency_toxic("ctk", "slow", 50, 0, configuration=configuration)
    assert toxic_actions.create_slicer_toxic("ctk", "cut", 2, 0, 10, configuration=configuration)
    _, toxics = api.call("GET", "/proxies/ctk/toxics")
    assert [t["name"] for t in toxics] == ["slow", "cut"]

    assert proxy_actions.disable_proxy("ctk", configuration=configuration)
    assert api.call("GET", "/proxies/ctk")[1]["enabled"] is False
    assert proxy_actions.enable_proxy("ctk", configuration=configuration)
    assert proxy_actions.reset(configuration=configuration)
    assert api.call("GET", "/proxies/ctk/toxics")[1] == []
    proxy_actions.delete_proxy("ctk", configuration=configuration)
    assert not proxy_probes.proxy_exist("ctk", configuration)


def test_api_errors_have_toxiproxy_shape(api: Api, echo: EchoServer) -> None:
    assert api.call("GET", "/proxies/nope") == (404, {"error": "proxy not found: nope", "status": 404})
    status, body = api.call("POST", "/proxies", {"name": "x"})
    assert status == 400 and "upstream" in body["error"]
    assert api.call("POST", "/proxies", {"name": "x", "upstream": echo.address,
                                         "listen": "127.0.0.1:0"})[0] == 201
    assert api.call("POST", "/proxies", {"name": "x", "upstream": echo.address})[0] == 409
    status, body = api.call("POST", "/proxies/x/toxics", {"type": "nonsense"})
    assert status == 400 and "unknown toxic type" in body["error"]
    status, body = api.call("POST", "/proxies/x/toxics", {"type": "latency", "toxicity": 2})
    assert status == 400
    assert api.call("POST", "/proxies/x/toxics", {"type": "latency"})[0] == 200
    assert api.call("POST", "/proxies/x/toxics", {"type": "latency"})[0] == 409
    status, body = api.call("POST", "/proxies/x/toxics/latency_downstream",
                            {"attributes": {"latency": 7}})
    assert status == 200 and body["attributes"]["latency"] == 7
    status, body = api.call("POST", "/populate", [{"name": "x", "upstream": echo.address,
                                                  "listen": "127.0.0.1:0"},
                                                 {"name": "y", "upstream": echo.address,
                                                  "listen": "127.0.0.1:0"}])
    assert status == 201 and [p["name"] for p in body["proxies"]] == ["x", "y"]
    assert api.call("DELETE", "/proxies/x/toxics/latency_downstream")[0] == 204
    assert api.call("DELETE", "/proxies/x/toxics/latency_downstream")[0] == 404
