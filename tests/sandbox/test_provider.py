"""The sandbox's model provider, driven by the real ``openai`` client and by raw HTTP."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import openai
import pytest

from chaosllm.sandbox.app import provider
from chaosllm.slo.exposition import parse_exposition
from tests.procs import model_provider

MODEL = "sandbox-primary"
TTFT = 0.3
RATE = 40.0


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with model_provider(MODEL, TTFT, RATE) as url:
        yield url


@pytest.fixture()
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=10)


MESSAGES = [{"role": "user", "content": "recommend a model for summarising tickets"}]


def test_a_whole_answer_has_openai_shape_and_counts_its_tokens(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=8)  # type: ignore[arg-type]
    expected = provider.tokens_for(MODEL, MESSAGES[0]["content"], 8)
    assert answer.choices[0].message.content == "".join(expected)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == len(expected) and answer.usage.prompt_tokens == 6
    assert answer.usage.total_tokens == 6 + len(expected)


def test_a_stream_sends_each_token_when_due(client: openai.OpenAI) -> None:
    started = time.perf_counter()
    arrivals: list[float] = []
    text = []
    usage = None
    stream = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, max_tokens=12, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )  # fmt: skip
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                arrivals.append(time.perf_counter() - started)
                text.append(choice.delta.content)
    expected = provider.tokens_for(MODEL, MESSAGES[0]["content"], 12)
    assert text == expected
    assert usage is not None and usage.completion_tokens == len(expected)
    # The first token waits for the time to first token; the rest come one by one,
    # not in one burst at the end.
    assert arrivals[0] >= TTFT * 0.9
    spread = arrivals[-1] - arrivals[0]
    assert spread >= (len(expected) - 1) / RATE * 0.8


def test_models_lists_the_served_model(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [MODEL]


@pytest.mark.parametrize("body, message", [
    ({"messages": []}, "'messages' must be a non-empty list"),
    ({"messages": [{"role": "user"}]}, "each message needs a string 'content'"),
    ({"messages": MESSAGES, "max_tokens": 0}, "'max_tokens' must be an integer"),
    ({"messages": MESSAGES, "max_tokens": "9"}, "'max_tokens' must be an integer"),
    ({"messages": MESSAGES, "stream": "yes"}, "'stream' must be true or false"),
    ({"messages": MESSAGES, "model": "gpt-x"}, "serves the model 'sandbox-primary'"),
])  # fmt: skip
def test_bad_requests_get_an_openai_error_body(base_url: str, body: dict[str, object], message: str) -> None:
    request = urllib.request.Request(f"{base_url}/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400
    error = json.loads(raised.value.read())["error"]
    assert message in error["message"] and error["type"] == "invalid_request_error"


def test_metrics_record_first_token_inter_token_and_outcomes(client: openai.OpenAI, base_url: str) -> None:
    for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):  # type: ignore[arg-type]
        pass
    text = urllib.request.urlopen(f"{base_url}/metrics", timeout=5).read().decode()
    samples = parse_exposition(text)
    ttft_count = [s for s in samples if s.name == "sandbox_llm_time_to_first_token_seconds_count"]
    ttft_sum = [s for s in samples if s.name == "sandbox_llm_time_to_first_token_seconds_sum"]
    assert ttft_count and ttft_count[0].value >= 1
    assert ttft_sum[0].value / ttft_count[0].value >= TTFT * 0.9
    outcomes = {s.labels["outcome"]: s.value for s in samples if s.name == "sandbox_llm_requests_total"}
    assert outcomes.get("ok", 0) >= 1
    assert any(s.name == "sandbox_llm_inter_token_latency_seconds_count" and s.value > 0 for s in samples)
    assert any(s.name == "sandbox_llm_tokens_per_second_count" and s.value > 0 for s in samples)


def test_answers_are_deterministic_and_bounded() -> None:
    first = provider.tokens_for(MODEL, "hello", 1024)
    assert first == provider.tokens_for(MODEL, "hello", 1024)
    assert 4 <= len(first) <= 63
    assert provider.tokens_for(MODEL, "hello", 2) == first[:2]
    assert provider.tokens_for("sandbox-fallback", "hello", 1024) != first
