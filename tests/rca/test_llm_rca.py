"""The LLM RCA: a validated structured answer, one retry on invalid output, heuristic fallback.

Through the real openai SDK against the local OpenAI-compatible mock: a valid answer becomes an
``RcaResult`` from the ``llm`` source; malformed JSON is retried once with the validation error
in the prompt; malformed twice, a timeout, HTTP 500, a 429 and an unreachable endpoint all end
in the fallback RCA with an ``llm:<reason>`` reference; an unknown playbook id is dropped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from aiops.enrichment import llm
from aiops.enrichment.rca import llm as llm_rca
from aiops.enrichment.rca import model
from aiops.events import model as events_model
from tests.support import openai_mock

PLAYBOOKS = {"restart-pod", "increase-memory", "rollback-deployment"}

VALID = {
    "summary": "The JVM ran out of heap under its 512Mi limit and was OOMKilled.",
    "category": "out_of_memory",
    "confidence": 0.85,
    "evidence": ["status:OOMKilled", "log:java_oom line 212"],
    "recommended_playbook": "increase-memory",
    "recommended_steps": ["Raise the memory limit to 1Gi", "Check the heap settings"],
}


def heuristic(evidence: model.Evidence) -> model.RcaResult:
    """A stand-in for the heuristic RCA: always the same answer."""
    return model.RcaResult(
        summary=f"{evidence.incident_type}: container restarting",
        category=model.RootCause.APPLICATION_CRASH,
        confidence=0.4,
        evidence=["event:BackOff x14"],
    )


def make_evidence() -> model.Evidence:
    return model.Evidence(
        incident_type="oom_killed",
        subject=events_model.ObjectRef(api_version="v1", kind="Pod", namespace="shop", name="api-7d9f-x2"),
        container_statuses=[
            {"name": "api", "restartCount": 14, "lastState": {"terminated": {"reason": "OOMKilled"}}}
        ],
        events=[{"type": "Warning", "reason": "BackOff", "message": "Back-off restarting", "count": 14}],
        resources={"api": {"limits": {"memory": "512Mi"}}},
        log_excerpt=["INFO started", "java.lang.OutOfMemoryError: Java heap space"],
    )


@pytest.fixture
async def mock() -> AsyncIterator[openai_mock.OpenAIMock]:
    async with openai_mock.serve_openai_mock() as server:
        yield server


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


async def analyze(
    mock: openai_mock.OpenAIMock, registry: CollectorRegistry | None = None, **overrides: Any
) -> model.RcaResult:
    metrics = llm.LlmMetrics(registry) if registry is not None else None
    config = llm.LlmConfig(base_url=mock.base_url, model="mock-model", api_key="k", timeout_seconds=0.3)
    async with llm.LlmClient(config, metrics=metrics) as client:
        return await llm_rca.analyze_with_llm(
            overrides.pop("evidence", make_evidence()),
            client=client,
            fallback=heuristic,
            playbook_ids=PLAYBOOKS,
            metrics=metrics,
            **overrides,
        )


async def test_a_valid_answer_is_the_result(
    mock: openai_mock.OpenAIMock, registry: CollectorRegistry
) -> None:
    mock.script(openai_mock.answer_json(VALID, prompt_tokens=900, completion_tokens=80))
    result = await analyze(mock, registry)
    assert result == model.RcaResult(**VALID, source="llm")
    assert len(mock.requests) == 1
    sent = mock.requests[0]["response_format"]
    assert sent["type"] == "json_schema"
    assert "source" not in sent["json_schema"]["schema"]["properties"]
    assert registry.get_sample_value("aiops_llm_rca_total", {"outcome": "llm"}) == 1
    assert registry.get_sample_value("aiops_llm_tokens_total", {"direction": "prompt"}) == 900


async def test_a_json_answer_inside_a_code_fence_is_accepted(mock: openai_mock.OpenAIMock) -> None:
    mock.script(openai_mock.answer("```json\n" + json.dumps(VALID) + "\n```"))
    result = await analyze(mock)
    assert result.source == "llm"
    assert len(mock.requests) == 1


async def test_malformed_json_is_retried_once_with_the_error(
    mock: openai_mock.OpenAIMock, registry: CollectorRegistry
) -> None:
    mock.script(openai_mock.answer('{"summary": "oom", "category": '), openai_mock.answer_json(VALID))
    result = await analyze(mock, registry)
    assert result.source == "llm"
    assert result.category is model.RootCause.OUT_OF_MEMORY
    assert len(mock.requests) == 2
    first, second = mock.messages(0)["user"], mock.messages(1)["user"]
    assert "previous answer was rejected" not in first
    assert "Your previous answer was rejected: <root>: Invalid JSON" in second
    assert registry.get_sample_value("aiops_llm_rca_total", {"outcome": "llm_retried"}) == 1


async def test_an_answer_off_the_schema_is_retried_with_the_field_named(mock: openai_mock.OpenAIMock) -> None:
    off_schema = {**VALID, "category": "cosmic_rays", "confidence": 3}
    mock.script(openai_mock.answer_json(off_schema), openai_mock.answer_json(VALID))
    result = await analyze(mock)
    assert result.source == "llm"
    retry = mock.messages(1)["user"]
    assert "category:" in retry
    assert "confidence:" in retry
    assert "cosmic_rays" not in retry, "the error must not echo the model's values back"


async def test_malformed_twice_falls_back_to_the_heuristic(
    mock: openai_mock.OpenAIMock, registry: CollectorRegistry
) -> None:
    mock.script(openai_mock.answer("not json at all"), openai_mock.answer("{still not"))
    result = await analyze(mock, registry)
    assert result.source == "heuristic"
    assert result.category is model.RootCause.APPLICATION_CRASH
    assert result.evidence == ["event:BackOff x14", "llm:invalid-output"]
    assert len(mock.requests) == 2
    assert registry.get_sample_value("aiops_llm_rca_total", {"outcome": "fallback_invalid_output"}) == 1


async def test_a_timeout_falls_back(mock: openai_mock.OpenAIMock, registry: CollectorRegistry) -> None:
    mock.script(openai_mock.answer_json(VALID, delay_seconds=2.0))
    result = await analyze(mock, registry)
    assert result.source == "heuristic"
    assert result.evidence[-1] == "llm:timeout"
    assert len(mock.requests) == 1
    assert registry.get_sample_value("aiops_llm_rca_total", {"outcome": "fallback_timeout"}) == 1


async def test_http_500_falls_back(mock: openai_mock.OpenAIMock) -> None:
    mock.script(openai_mock.error(500, "internal error"))
    result = await analyze(mock)
    assert result.source == "heuristic"
    assert result.evidence[-1] == "llm:server-error"
    assert len(mock.requests) == 1


async def test_a_rate_limit_falls_back(mock: openai_mock.OpenAIMock) -> None:
    mock.script(openai_mock.error(429, "rate limit reached", headers={"Retry-After": "20"}))
    result = await analyze(mock)
    assert result.source == "heuristic"
    assert result.evidence[-1] == "llm:rate-limited"
    assert len(mock.requests) == 1


async def test_a_rejected_request_falls_back(mock: openai_mock.OpenAIMock) -> None:
    mock.script(openai_mock.error(401, "invalid api key"))
    result = await analyze(mock)
    assert result.evidence[-1] == "llm:rejected"


async def test_an_unreachable_endpoint_falls_back() -> None:
    config = llm.LlmConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key="k", timeout_seconds=0.3)
    async with llm.LlmClient(config) as client:
        result = await llm_rca.analyze_with_llm(
            make_evidence(), client=client, fallback=heuristic, playbook_ids=PLAYBOOKS
        )
    assert result.evidence[-1] == "llm:connection-error"


async def test_an_unknown_playbook_id_is_dropped(mock: openai_mock.OpenAIMock) -> None:
    mock.script(openai_mock.answer_json({**VALID, "recommended_playbook": "delete-namespace"}))
    result = await analyze(mock)
    assert result.source == "llm"
    assert result.recommended_playbook is None
    assert result.summary == VALID["summary"]


async def test_the_fallback_note_keeps_the_evidence_within_its_limit(mock: openai_mock.OpenAIMock) -> None:
    def busy_heuristic(evidence: model.Evidence) -> model.RcaResult:
        return model.RcaResult(
            summary="x",
            category=model.RootCause.UNKNOWN,
            confidence=0.1,
            evidence=[f"e{i}" for i in range(20)],
        )

    mock.script(openai_mock.error(503))
    config = llm.LlmConfig(base_url=mock.base_url, model="m", api_key="k", timeout_seconds=0.3)
    async with llm.LlmClient(config) as client:
        result = await llm_rca.analyze_with_llm(
            make_evidence(), client=client, fallback=busy_heuristic, playbook_ids=PLAYBOOKS
        )
    assert len(result.evidence) == 20
    assert result.evidence[-1] == "llm:server-error"
    model.RcaResult.model_validate(result.model_dump())
