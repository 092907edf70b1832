"""The enricher: every new incident gets log findings and an RCA, stored next to it in Redis.

Fed by: the pipeline, once per new incident (``launch``; a background task, so the watch never
waits for log reads or an LLM). Consumes: live evidence collection (``collect``), the pure
evidence builder, the heuristic RCA and, when configured, the LLM RCA (which falls back to the
heuristic). Consumed by: the API (``GET /api/incidents/{id}``), ``aiops incidents show`` and,
later, chat messages.

Log templates new since the last rollout: each enrichment records the Drain templates of the
workload's logs per ReplicaSet revision; an incident on revision N lists the templates never seen
at revisions below N (``new_templates``): what the rollout started saying.

Safety: log text is redacted before it is stored or sent anywhere; a recommended playbook that
does not exist is dropped; nothing an RCA says executes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from aiops import background, bodies
from aiops import kube as kube_mod
from aiops.clock import utcnow
from aiops.enrichment import collect
from aiops.enrichment.logs import scan as scan_mod
from aiops.enrichment.logs import templates as templates_mod
from aiops.enrichment.rca import evidence as evidence_mod
from aiops.enrichment.rca import heuristics
from aiops.enrichment.rca.model import Evidence, LogFinding, RcaResult
from aiops.enrichment.scrub import Scrubber
from aiops.events.model import ClusterEvent
from aiops.metrics import Metrics
from aiops.store import Store

log = logging.getLogger(__name__)

#: Most templates kept per workload revision (a bounded baseline; Drain itself caps clusters).
MAX_BASELINE_TEMPLATES = 2_000

#: Enrichments reading from the Kubernetes API at the same time (the rest wait their turn).
MAX_CONCURRENT_ENRICHMENTS = 1

#: Most new-since-rollout templates reported on an incident.
MAX_NEW_TEMPLATES = 50

#: An optional LLM analysis: (evidence, fallback) → result. Built in the runtime when configured.
LlmAnalysis = Callable[[Evidence, Callable[[Evidence], RcaResult]], Awaitable[RcaResult]]


class Enrichment(BaseModel):
    """What the enricher learned about an incident. ``heuristic`` is kept when an LLM answered."""

    incident_id: str
    at: datetime
    incident_type: str
    findings: list[LogFinding] = Field(default_factory=list)
    log_excerpt: list[str] = Field(default_factory=list)
    revision: int | None = None
    new_templates: list[str] = Field(default_factory=list)
    rca: RcaResult
    heuristic: RcaResult | None = None


class EnrichmentStore:
    """Enrichments as JSON documents in Redis, one per incident, and each workload's log-template
    baseline per ReplicaSet revision. Everything is scrubbed before it is written (``scrub``; the
    built-in rules when None): an RCA quoting an event message or a log line keeps no secret.
    ``on_saved(incident_id)`` is called after each save (the chat feed; it returns at once and
    never raises). Raises StoreUnavailable."""

    _KIND = "enrichment"
    _TEMPLATES = "templates"

    def __init__(
        self, store: Store, *, scrub: Scrubber | None = None, on_saved: Callable[[str], None] | None = None
    ) -> None:
        self._store = store
        self._scrub = scrub or Scrubber()
        self._on_saved = on_saved

    async def save(self, enrichment: Enrichment) -> None:
        """Persist (or replace) the incident's enrichment, scrubbed."""
        scrubbed = self._scrub(enrichment.model_dump(mode="json"))
        await self._store.put_doc(self._KIND, enrichment.incident_id, json.dumps(scrubbed))
        if self._on_saved is not None:
            self._on_saved(enrichment.incident_id)

    async def get(self, incident_id: str) -> Enrichment | None:
        """The incident's enrichment, or None when not (yet) enriched."""
        raw = await self._store.get_doc(self._KIND, incident_id)
        return Enrichment.model_validate_json(raw) if raw else None

    async def templates_before(self, workload: str, revision: int) -> set[str] | None:
        """Templates seen in the workload's logs at revisions below ``revision``; None if none recorded."""
        seen: set[str] = set()
        found = False
        for member in await self._store.index_members(f"templates:{workload}", max_score=revision - 1):
            raw = await self._store.get_doc(self._TEMPLATES, f"{workload}@{member}")
            if raw:
                found = True
                seen.update(json.loads(raw))
        return seen if found else None

    async def add_templates(self, workload: str, revision: int, templates: Iterable[str]) -> None:
        """Record templates seen at ``revision`` (kept with the union of earlier calls)."""
        key = f"{workload}@{revision}"
        raw = await self._store.get_doc(self._TEMPLATES, key)
        merged = set(json.loads(raw)) if raw else set()
        merged.update(self._scrub.text(template) for template in templates)
        await self._store.put_doc(self._TEMPLATES, key, json.dumps(sorted(merged)[:MAX_BASELINE_TEMPLATES]))
        await self._store.index_add(f"templates:{workload}", str(revision), float(revision))


class Enricher:
    """Collects evidence, analyses it and stores the result for each new incident."""

    def __init__(
        self,
        *,
        kube: kube_mod.Kube,
        store: EnrichmentStore,
        playbook_ids: Callable[[], Collection[str]],
        metrics: Metrics,
        redact_lines: Callable[[Iterable[str]], list[str]] = list,
        llm: LlmAnalysis | None = None,
    ) -> None:
        self._kube = kube
        self._store = store
        self._playbook_ids = playbook_ids
        self._metrics = metrics
        self._redact_lines = redact_lines
        self._llm = llm
        self._background = background.Background(metrics, stage="enrichment", logger=log)
        # CPU-bound analysis (redaction, pattern scan, template mining, heuristics) runs on one
        # worker thread that owns the compiled scanner: the event loop (the watch, the API) never
        # waits for it, and hyperscan's scratch space is never shared between threads.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiops-enrich")
        # At most this many enrichments read from the API at once: a storm of new incidents
        # queues its enrichments instead of crowding out the watch and the executor.
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_ENRICHMENTS)
        self._scanner: scan_mod.Scanner | None = None

    def launch(self, incident_id: str, event: ClusterEvent) -> None:
        """Enrich in the background; failures are logged and counted, never raised to the watch."""

        async def _in_turn() -> None:
            async with self._slots:
                await self.enrich(incident_id, event)

        self._background.spawn(
            _in_turn(), name=f"enrich:{incident_id}", what=f"enrichment of incident {incident_id}"
        )

    async def wait_idle(self, timeout_seconds: float = 30.0) -> None:
        """Wait for background enrichments (shutdown, tests)."""
        await self._background.wait_idle(timeout_seconds)

    async def drain(self, timeout_seconds: float = 10.0) -> int:
        """On shutdown: wait up to ``timeout_seconds`` for enrichments, cancel (and await) the rest;
        returns how many were cancelled. Call before closing the Kubernetes client and :meth:`close`."""
        return await self._background.drain(timeout_seconds)

    def close(self) -> None:
        """Stop the analysis thread (after :meth:`wait_idle` or :meth:`drain`)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _analyse(self, raw: collect.Collected, event: ClusterEvent) -> tuple[Evidence, RcaResult, set[str]]:
        """On the analysis thread: redact, build the evidence, run the heuristic, mine templates."""
        if self._scanner is None:
            self._scanner = scan_mod.scanner()
        logs = self._redact_lines(raw.logs)
        previous = self._redact_lines(raw.previous_logs)
        evidence = evidence_mod.from_objects(
            raw.obj
            or {"apiVersion": event.resource.api_version, "kind": event.resource.kind, "metadata": {}},
            events=raw.events,
            logs=logs,
            previous_logs=previous,
            related=raw.related,
            scanner=self._scanner,
        )
        if evidence.incident_type == "unknown":  # the object alone no longer shows it: trust the event
            evidence = evidence.model_copy(update={"incident_type": event.type.value})
        miner = templates_mod.TemplateMiner()
        current = {template for _, template in miner.assign(previous + logs)}
        return evidence, heuristics.analyze(evidence), current

    async def enrich(self, incident_id: str, event: ClusterEvent) -> Enrichment:
        """Collect, analyse, store and return the incident's enrichment."""
        raw = await collect.collect(self._kube, event)
        loop = asyncio.get_running_loop()
        evidence, analysed, current = await loop.run_in_executor(self._pool, self._analyse, raw, event)
        heuristic = self._checked(analysed)
        rca, kept = heuristic, None
        if self._llm is not None:
            rca = self._checked(await self._llm(evidence, heuristics.analyze))
            kept = heuristic if rca.source != "heuristic" else None
        revision, new_templates = await self._new_templates(event, raw.obj, raw.related, current)
        enrichment = Enrichment(
            incident_id=incident_id,
            at=utcnow(),
            incident_type=evidence.incident_type,
            findings=evidence.log_findings,
            log_excerpt=evidence.log_excerpt,
            revision=revision,
            new_templates=new_templates,
            rca=rca,
            heuristic=kept,
        )
        await self._store.save(enrichment)
        log.info("incident %s enriched: %s (%.2f) %s", incident_id, rca.category, rca.confidence, rca.source)
        return enrichment

    async def _new_templates(
        self, event: ClusterEvent, pod: dict[str, Any], related: list[dict[str, Any]], current: set[str]
    ) -> tuple[int | None, list[str]]:
        """The pod's ReplicaSet revision and its log templates never seen at earlier revisions.

        The baseline is what earlier enrichments of the same Deployment recorded per revision
        (the Deployment controller's ``deployment.kubernetes.io/revision`` on the pod's
        ReplicaSet). With no earlier revision on record nothing can be called new: ``[]``.
        """
        owners = bodies.owner_references(pod)
        replicaset = next((ref.get("name") for ref in owners if ref.get("kind") == "ReplicaSet"), None)
        revision: int | None = None
        for obj in related:
            if obj.get("kind") == "ReplicaSet" and bodies.meta(obj).get("name") == replicaset:
                value = bodies.annotations_of(obj).get(evidence_mod.REVISION_ANNOTATION, "")
                revision = int(value) if value.isdigit() else None
        if revision is None or not current or event.subject.kind != "Deployment":
            return revision, []
        baseline = await self._store.templates_before(event.subject.key, revision)
        await self._store.add_templates(event.subject.key, revision, current)
        if baseline is None:
            return revision, []
        return revision, sorted(current - baseline)[:MAX_NEW_TEMPLATES]

    def _checked(self, result: RcaResult) -> RcaResult:
        """Drop a recommended playbook that does not exist: an RCA can only point at real ones."""
        if result.recommended_playbook and result.recommended_playbook not in self._playbook_ids():
            return result.model_copy(update={"recommended_playbook": None})
        return result
