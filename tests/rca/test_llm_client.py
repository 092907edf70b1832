"""The LLM client: JSON answers through the real openai SDK, and SDK failures as aiops errors.

Against the local OpenAI-compatible mock: structured output is requested as ``json_schema`` and
downgraded to ``json_object`` once when the server rejects it; usage and latency come back and
are counted; timeouts, 429 (with Retry-After), 5xx and unreachable servers become
``LlmUnavailable`` (a TemporaryError), other 4xx ``LlmRejected`` (a PermanentError).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from aiops import errors
from aiops.enrichment import llm
from tests.support import openai_mock

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


@pytest.fixture
async def mock() -> AsyncIterator[openai_mock.OpenAIMock]:
    async with openai_mock.serve_openai_mock() as server:
        yield server


def make_client(
    mock: openai_mock.OpenAIMock, *, metrics: llm.LlmMetrics | None = None, timeout: float = 0.3
) -> llm.LlmClient:
    config = llm.LlmConfig(base_url=mock.base_url, model="mock-model", api_key="k", timeout_seconds=timeout)
    return llm.LlmClient(config, metrics=metrics)


async def test_answer_text_usage_and_latency_are_returned(mock: openai_mock.OpenAIMock) -> None:
    mock.script(openai_mock.answer('{"ok": true}', prompt_tokens=11, completion_tokens=3))
    async with make_client(mock) as client:
        text, usage, latency = await client.complete_json("sys", "usr", schema=SCHEMA, schema_name="probe")
    assert text == '{"ok": true}'
    assert usage == llm.LlmUsage(prompt_tokens=11, completion_tokens=3)
    assert 0 <= latency < 5
    sent = mock.requests[0]
    assert sent["model"] == "mock-model"
    assert sent["temperature"] == 0
    assert sent["max_tokens"] == 800
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "probe", "schema": SCHEMA, "strict": False},
    }
    assert mock.messages(0) == {"system": "sys", "user": "usr"}


async def test_a_server_rejecting_json_schema_is_asked_again_with_json_object(
    mock: openai_mock.OpenAIMock,
) -> None:
    mock.script(
        openai_mock.error(400, "response_format json_schema is not supported"),
        openai_mock.answer('{"ok": true}'),
        openai_mock.answer('{"ok": false}'),
    )
    async with make_client(mock) as client:
        first = await client.complete_json("s", "u", schema=SCHEMA)
        second = await client.complete_json("s", "u", schema=SCHEMA)
    assert (first.text, second.text) == ('{"ok": true}', '{"ok": false}')
    formats = [r["response_format"]["type"] for r in mock.requests]
    assert formats == ["json_schema", "json_object", "json_object"]


async def test_tokens_and_latency_are_counted_on_the_given_registry(mock: openai_mock.OpenAIMock) -> None:
    registry = CollectorRegistry()
    metrics = llm.LlmMetrics(registry)
    mock.script(openai_mock.answer("{}", prompt_tokens=100, completion_tokens=7), openai_mock.error(503))
    async with make_client(mock, metrics=metrics) as client:
        await client.complete_json("s", "u", schema=SCHEMA)
        with pytest.raises(llm.LlmUnavailable):
            await client.complete_json("s", "u", schema=SCHEMA)
    sample = registry.get_sample_value
    assert sample("aiops_llm_tokens_total", {"direction": "prompt"}) == 100
    assert sample("aiops_llm_tokens_total", {"direction": "completion"}) == 7
    assert sample("aiops_llm_request_seconds_count", {"outcome": "ok"}) == 1
    assert sample("aiops_llm_request_seconds_count", {"outcome": "server-error"}) == 1


async def test_a_slow_server_is_a_timeout(mock: openai_mock.OpenAIMock) -> None:
    mock.script(openai_mock.answer("{}", delay_seconds=2.0))
    async with make_client(mock, timeout=0.3) as client:
        with pytest.raises(llm.LlmUnavailable) as caught:
            await client.complete_json("s", "u", schema=SCHEMA)
    assert caught.value.reason == "timeout"
    assert isinstance(caught.value, errors.TemporaryError)
    assert len(mock.requests) == 1, "the SDK must not retry on its own"


async def test_rate_limit_is_temporary_with_the_retry_after_delay(mock: openai_mock.OpenAIMock) -> None:
    mock.script(openai_mock.error(429, "slow down", headers={"Retry-After": "7"}))
    async with make_client(mock) as client:
        with pytest.raises(llm.LlmUnavailable) as caught:
            await client.complete_json("s", "u", schema=SCHEMA)
    assert caught.value.reason == "rate-limited"
    assert caught.value.delay_seconds == 7.0
    assert len(mock.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_temporary(mock: openai_mock.OpenAIMock, status: int) -> None:
    mock.script(openai_mock.error(status, "boom"))
    async with make_client(mock) as client:
        with pytest.raises(llm.LlmUnavailable) as caught:
            await client.complete_json("s", "u", schema=SCHEMA)
    assert caught.value.reason == "server-error"
    assert len(mock.requests) == 1


@pytest.mark.parametrize("status", [401, 404, 422])
async def test_other_client_errors_are_permanent(mock: openai_mock.OpenAIMock, status: int) -> None:
    mock.script(openai_mock.error(status, "no"))
    async with make_client(mock) as client:
        with pytest.raises(llm.LlmRejected) as caught:
            await client.complete_json("s", "u", schema=SCHEMA)
    assert isinstance(caught.value, errors.PermanentError)
    assert caught.value.status_code == status


async def test_an_unreachable_endpoint_is_a_connection_error() -> None:
    config = llm.LlmConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key="k", timeout_seconds=0.3)
    async with llm.LlmClient(config) as client:
        with pytest.raises(llm.LlmUnavailable) as caught:
            await client.complete_json("s", "u", schema=SCHEMA)
    assert caught.value.reason == "connection-error"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 1.0),
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "soon"}, 1.0),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ],
)
def test_retry_after_is_read_in_seconds(headers: dict[str, str], expected: float) -> None:
    assert llm.retry_after_seconds(httpx.Headers(headers)) == expected
