"""Every new incident is enriched end to end: the previous container's log is read through the
API, analysed into findings, and an RCA is stored with the incident (heuristic; or the LLM's,
through the real openai SDK against a local OpenAI-compatible server). Secrets in the logs never
reach the model, and an RCA can only recommend an existing playbook."""

from __future__ import annotations

from typing import Any

from aiops.settings import LlmSettings
from tests.operator import workloads
from tests.support import openai_mock
from tests.support.operator_fixtures import Harness, eventually, make_settings, writes

SECRET_LOG = workloads.PREVIOUS_LOG + "connecting with postgres://app:hunter2-secret@orders-db:5432/orders\n"


async def _enrichment(harness: Harness) -> dict[str, Any] | None:
    incidents = [i for i in await harness.get("/api/incidents") if i["type"] == "crash_loop"]
    if not incidents:
        return None
    enrichment: dict[str, Any] | None = (await harness.get(f"/api/incidents/{incidents[0]['id']}"))[
        "enrichment"
    ]
    return enrichment


async def test_a_crash_loop_incident_gets_findings_and_a_heuristic_rca(harness: Harness) -> None:
    workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def enriched() -> bool:
        return await _enrichment(harness) is not None

    await eventually(enriched, what="the incident's enrichment")
    enrichment = await _enrichment(harness)
    assert enrichment is not None
    assert enrichment["findings"], "the previous container's traceback was found"
    assert any("OperationalError" in line for line in enrichment["log_excerpt"])
    rca = enrichment["rca"]
    assert rca["source"] == "heuristic" and 0 < rca["confidence"] <= 1
    assert rca["category"] != "unknown" and rca["summary"]
    assert rca["recommended_playbook"] in (None, "crash_loop_remediation", "deployment_rollback")


async def test_with_an_llm_the_rca_is_the_models_and_secrets_never_leave(harness: Harness) -> None:
    async with openai_mock.serve_openai_mock() as mock:
        mock.script(
            openai_mock.answer_json(
                {
                    "summary": "checkout cannot reach PostgreSQL at orders-db:5432 (connection refused).",
                    "category": "dependency_unavailable",
                    "confidence": 0.8,
                    "evidence": ["log:psycopg.OperationalError"],
                    "recommended_playbook": "delete_the_namespace",
                    "recommended_steps": ["check the orders-db Service endpoints"],
                }
            )
        )
        harness.settings = make_settings(
            harness.emulator, llm=LlmSettings(base_url=mock.base_url, model="test-model", timeout_seconds=5)
        )
        pod = workloads.seed_crash_loop(harness.emulator)
        harness.emulator.set_pod_log(
            "shop", pod["metadata"]["name"], SECRET_LOG, container="app", previous=True
        )
        await harness.start()

        async def enriched() -> bool:
            return await _enrichment(harness) is not None

        await eventually(enriched, what="the LLM enrichment")
        enrichment = await _enrichment(harness)
        assert enrichment is not None
        rca = enrichment["rca"]
        assert rca["source"] == "llm" and rca["category"] == "dependency_unavailable"
        assert rca["recommended_playbook"] is None  # not an existing playbook: dropped, never run
        assert enrichment["heuristic"]["source"] == "heuristic"
        assert "hunter2-secret" not in mock.received_text()
        assert not any("hunter2-secret" in line for line in enrichment["log_excerpt"])
    assert writes(harness.emulator, "DELETE", "/namespaces/") == []
