"""LLM serving SLO probes against a real Prometheus scraping a real model provider and gateway route.

Traffic: 12 answers from the primary, 4 from the fallback after the primary
refused, and 4 answered by the primary too late for a 0.1 s first-token
objective. So failover share is 4/20 and goodput 16/20.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from prometheus_client import start_http_server

from chaosllm.errors import InvalidArgument
from chaosllm.sandbox.app import launcher
from chaosllm.sandbox.app.completions import ATTEMPTS, GOODPUT, Completions, Provider
from chaosllm.slo import probes
from tests.conftest import IN_CI

pytestmark = pytest.mark.integration

TTFT = 0.3


def _provider(model: str) -> tuple[subprocess.Popen[bytes], str]:
    port = launcher.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "chaosllm.sandbox.app.provider", "--port", str(port),
                             "--model", model, "--ttft", str(TTFT), "--tokens-per-second", "40"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    launcher.wait_until(lambda: urllib.request.urlopen(f"{url}/healthz", timeout=1).status == 200, 20,
                        f"the provider {model}", proc)  # fmt: skip
    return proc, url


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        primary, primary_url = _provider("primary-model")
        procs.append(primary)
        fallback, fallback_url = _provider("fallback-model")
        procs.append(fallback)
        gateway_port = launcher.free_port()
        server, thread = start_http_server(gateway_port, addr="127.0.0.1")
        for provider in ("primary", "fallback"):  # every series exists before the first scrape
            for outcome in ("ok", "failed"):
                ATTEMPTS.labels(provider, outcome)
        for result in ("good", "bad"):
            GOODPUT.labels(result)
        try:
            prom = launcher.start_prometheus(tmp_path_factory.mktemp("prometheus"), targets={
                "llm": [primary_url.split("//")[1], fallback_url.split("//")[1]],
                "gateway": [f"127.0.0.1:{gateway_port}"]})  # fmt: skip
        except launcher.MissingBinary as exc:
            if IN_CI:
                pytest.fail(f"CI=true and a server binary is missing: {exc}")
            pytest.skip(str(exc))
        cfg = {"prometheus_base_url": prom.url}
        try:
            up = 'count(up{job=~"llm|gateway"} == 1)'
            launcher.wait_until(lambda: (probes.query_value(up, configuration=cfg) or 0) == 3, 30,
                                "prometheus to scrape the providers and the gateway")  # fmt: skip
            closed = f"http://127.0.0.1:{launcher.free_port()}"
            good = Completions(Provider("primary", primary_url, "primary-model"))
            failover = Completions(Provider("primary", closed, "primary-model"),
                                   Provider("fallback", fallback_url, "fallback-model"))  # fmt: skip
            strict = Completions(Provider("primary", primary_url, "primary-model"), goodput_ttft=0.1)
            routes = [good] * 12 + [failover] * 4 + [strict] * 4
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda route: route.complete("hello there", 4), routes))
            scrapes = 'count_over_time(sandbox_llm_goodput_total{result="good"}[1m])'
            before = probes.query_value(scrapes, configuration=cfg) or 0
            launcher.wait_until(lambda: (probes.query_value(scrapes, configuration=cfg) or 0) >= before + 3,
                                30, "three scrapes after the traffic")  # fmt: skip
            yield cfg
        finally:
            prom.stop()
            server.shutdown()
            thread.join(5)
    finally:
        for proc in procs:
            launcher.stop_pid(proc.pid, proc=proc)


def test_time_to_first_token_reads_the_providers_histogram(measured: dict[str, Any]) -> None:
    p95 = probes.time_to_first_token(0.95, window="1m", configuration=measured)
    assert p95 is not None and 0.25 <= p95 <= 0.5  # the 0.25..0.5 s bucket holds every 0.3 s first token


def test_inter_token_latency_and_tokens_per_second(measured: dict[str, Any]) -> None:
    itl = probes.inter_token_latency(0.95, configuration=measured)
    assert itl is not None and 0.01 <= itl <= 0.05  # 40 tokens/s: 25 ms between tokens
    speed = probes.tokens_per_second(0.5, configuration=measured)
    assert speed is not None and 20 <= speed <= 50


def test_failover_share_and_goodput(measured: dict[str, Any]) -> None:
    share = probes.failover_share(configuration=measured)
    assert share == pytest.approx(4 / 20, abs=0.01)
    assert probes.goodput(configuration=measured) == pytest.approx(16 / 20, abs=0.01)


def test_no_traffic_is_null_not_zero(measured: dict[str, Any]) -> None:
    assert probes.time_to_first_token(selector='job="nothing"', configuration=measured) is None
    assert probes.goodput(selector='job="nothing"', configuration=measured) is None


def test_bad_arguments_are_refused(measured: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument, match="quantile"):
        probes.time_to_first_token(quantile=95, configuration=measured)
    with pytest.raises(InvalidArgument, match="window"):
        probes.goodput(window="a while", configuration=measured)
