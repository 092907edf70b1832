"""The runtime: builds every component once from :class:`Settings` and runs them in one loop.

Fed by: ``cli.py`` (``aiops run``) and the demo. Builds: store, Kubernetes client, metrics,
deduplicator, approval gate, audit log, run store, executor, pipeline, playbook registry, rule
engine and the FastAPI app; then runs the kopf operator, uvicorn and the approval sweeper
together until stopped. Configuration errors (invalid rules or playbooks) raise
:class:`aiops.errors.ValidationFailed` before anything starts: no half-applied config.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from aiops import background, errors, operator
from aiops import config as config_mod
from aiops import kube as kube_mod
from aiops.actions import base as actions_base
from aiops.actions import registry as actions_registry
from aiops.actions.catalog import Risk
from aiops.api import auth, webhook
from aiops.api.app import create_app
from aiops.api.deps import ApiDeps
from aiops.approvals import gate as gate_mod
from aiops.audit import AuditLog
from aiops.enrichment import enricher as enricher_mod
from aiops.enrichment import llm as llm_mod
from aiops.enrichment import redact as redact_mod
from aiops.enrichment.rca import llm as rca_llm
from aiops.enrichment.rca.model import Evidence, RcaResult
from aiops.enrichment.scrub import Scrubber
from aiops.events import dedup as dedup_mod
from aiops.metrics import Metrics
from aiops.pipeline import Fetch, NamespaceFilter, Pipeline
from aiops.playbooks import executor as executor_mod
from aiops.playbooks.runs import Escalation, Run, RunStore
from aiops.rules import engine as engine_mod
from aiops.safety import guards as guards_mod
from aiops.safety import verify as verify_mod
from aiops.settings import Settings
from aiops.sources.alertmanager import intake as intake_mod
from aiops.store import Store
from aiops.store import alerts as store_alerts

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Every long-lived component, built once by :func:`build`."""

    settings: Settings
    store: Store
    kube: kube_mod.Kube
    metrics: Metrics
    dedup: dedup_mod.Deduplicator
    gate: gate_mod.ApprovalGate
    audit: AuditLog
    runs: RunStore
    executor: executor_mod.Executor
    pipeline: Pipeline
    playbooks: operator.LivePlaybooks
    rules: engine_mod.RuleEngine
    owners: operator.OwnerIndex
    app: FastAPI
    intake: intake_mod.Intake
    enricher: enricher_mod.Enricher
    #: The port the API listens on once started (useful with ``api.port: 0``); None before.
    api_port: int | None = None
    #: How long :meth:`close` lets background runs, verifications and enrichments finish (seconds).
    drain_seconds: float = 10.0

    async def stop_work(self) -> None:
        """Stop background work; call after :func:`serve` returned, before closing the clients.

        Scheduled re-checks are cancelled; runs, verifications and enrichments get ``drain_seconds``
        (together) to finish, then are cancelled and awaited, so nothing uses the Kubernetes client
        or the store after they close (before, ``make bench`` logged "RuntimeError: Session is
        closed" for enrichments still queued). A cancelled step is resumed on the next start.
        """
        self.pipeline.close()
        await asyncio.gather(self.executor.drain(self.drain_seconds), self.enricher.drain(self.drain_seconds))
        self.enricher.close()

    async def close(self) -> None:
        """:meth:`stop_work`, then close the Kubernetes client and the store."""
        await self.stop_work()
        await self.kube.close()
        await self.store.close()


#: Where Kubernetes mounts the pod's namespace for its service account.
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def own_namespace() -> list[str]:
    """The namespace aiops runs in (``POD_NAMESPACE`` from the downward API, else the service
    account's namespace file), protected from its own writes by default; empty outside a cluster."""
    name = os.environ.get("POD_NAMESPACE", "").strip()
    if not name and SERVICE_ACCOUNT_NAMESPACE.is_file():
        name = SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return [name] if name else []


async def _log_escalation(run: Run, escalation: Escalation) -> None:
    """The escalation sink until chat is wired: one WARNING log line people can alert on."""
    log.warning(
        "ESCALATION incident=%s run=%s playbook=%s step=%r %s: %s",
        run.incident_id,
        run.id,
        run.playbook_id,
        escalation.step,
        escalation.guard or escalation.kind,
        escalation.reason,
    )


async def build(
    settings: Settings,
    *,
    store: Store | None = None,
    kube: kube_mod.Kube | None = None,
    config: config_mod.Config | None = None,
) -> Services:
    """Build every component from ``config`` (``aiops.config.load``, as ``aiops run`` does), else from
    ``settings`` loaded the same way. Raises ValidationFailed on invalid config (nothing is started)."""
    if config is None:
        config = config_mod.from_settings(settings)
    settings = config.settings
    registry, rules, alert_map = config.registry, config.rules, config.alert_mapping
    redactor = config.redactor
    scrub = Scrubber(redactor)  # everything stored from the cluster goes through it first
    store = store or Store.connect(settings.redis_url, prefix=settings.redis_prefix)
    if kube is None:
        kube = await kube_mod.Kube.from_settings(settings.kube)
    metrics = Metrics()
    dedup = dedup_mod.Deduplicator(store, metrics=metrics)
    approvals = settings.approvals
    gate = gate_mod.ApprovalGate(
        store,
        gate_mod.ApprovalPolicy(
            ttl_seconds={Risk.MEDIUM: approvals.ttl_seconds_medium, Risk.HIGH: approvals.ttl_seconds_high},
            approvers={
                Risk.MEDIUM: frozenset(approvals.approvers_medium),
                Risk.HIGH: frozenset(approvals.approvers_high),
            },
        ),
        metrics=metrics,
        scrub=scrub,
    )
    audit = AuditLog(store, scrub=scrub)
    runs = RunStore(store, scrub=scrub)
    playbooks = operator.LivePlaybooks(registry)
    limits = actions_base.ActionLimits(
        max_memory_limit_bytes=config.max_memory_limit_bytes,
        eviction_retry_seconds=settings.actions.eviction_retry_seconds,
        eviction_timeout_seconds=settings.actions.eviction_timeout_seconds,
        log_tail_lines=settings.actions.log_tail_lines,
    )
    executor = executor_mod.Executor(
        store=store,
        runs=runs,
        playbooks=playbooks.current,
        actions=actions_registry.builtin_actions(),
        gate=gate,
        audit=audit,
        kube=kube,
        incidents=dedup,
        metrics=metrics,
        limits=limits,
        max_wait_seconds=settings.runs.max_wait_seconds,
        guards=guards_mod.Guards(
            store, settings.safety, metrics=metrics, protected_namespaces=own_namespace()
        ),
        verifier=verify_mod.Verifier(kube, poll_seconds=settings.safety.verify_poll_seconds),
        safety=settings.safety,
        on_escalation=_log_escalation,
    )
    owners = operator.OwnerIndex()
    enrichments = enricher_mod.EnrichmentStore(store, scrub=scrub)
    enricher = enricher_mod.Enricher(
        kube=kube,
        store=enrichments,
        playbook_ids=lambda: playbooks.current().ids(),
        metrics=metrics,
        redact_lines=redactor.redact_lines,
        llm=_llm_analysis(settings, metrics, lambda: playbooks.current().ids(), redactor),
    )
    pipeline = Pipeline(
        dedup=dedup,
        rules=lambda: rules,
        executor=executor,
        store=store,
        metrics=metrics,
        namespaces=NamespaceFilter(settings.kube.namespaces, settings.kube.exclude_namespaces),
        owner_lookup=owners.lookup,
        fetch=_fetcher(kube),
        extra_routes=playbooks.routes,
        on_incident=enricher.launch if settings.enrichment.enabled else None,
        scrub=scrub,
    )
    intake = intake_mod.Intake(
        store_alerts.AlertStream(
            store,
            window_seconds=settings.alertmanager.idempotency_window_seconds,
            maxlen=settings.alertmanager.stream_maxlen,
        ),
        consumer=executor.instance_id,
        handle=pipeline.alert,
        mapping=alert_map,
        metrics=metrics,
        scrub=scrub.json_bytes,
    )
    app = create_app(
        ApiDeps(
            gate=gate,
            executor=executor,
            dedup=dedup,
            audit=audit,
            metrics=metrics,
            kube_ready=kube.ping,
            store_ready=store.ping,
            enrichments=enrichments,
            authenticate=auth.Authenticator(
                settings.api.identities(), allow_unauthenticated=settings.api.allow_unauthenticated
            ),
        ),
        webhook=webhook.build_router(intake, settings.alertmanager)
        if settings.alertmanager.enabled
        else None,
        docs=settings.api.docs,
    )
    return Services(
        settings=settings,
        store=store,
        kube=kube,
        metrics=metrics,
        dedup=dedup,
        gate=gate,
        audit=audit,
        runs=runs,
        executor=executor,
        pipeline=pipeline,
        playbooks=playbooks,
        rules=rules,
        owners=owners,
        app=app,
        intake=intake,
        enricher=enricher,
    )


#: Young-generation threshold of the cyclic garbage collector (CPython's default is 700 allocations).
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Freeze what start-up built out of the cyclic collector and collect the young generation less often.

    Everything alive after start-up (kubernetes-asyncio's ~700 generated model classes, pydantic
    schemas, the app) lives for the whole process; ``gc.freeze()`` stops every full collection
    from re-scanning it (Python docs, ``gc.freeze``), and a larger young-generation threshold
    makes collections rarer. Measured on the webhook receiver (bench/webhook_ingest.py): p99
    56 ms → 20 ms, 2,030 → 2,490 payloads/s.
    """
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, second, third)


def _llm_analysis(
    settings: Settings,
    metrics: Metrics,
    playbook_ids: Callable[[], Collection[str]],
    redactor: redact_mod.Redactor,
) -> enricher_mod.LlmAnalysis | None:
    """The LLM RCA when an endpoint is configured (``llm.base_url`` and ``llm.model``), else None."""
    conf = settings.llm
    if not conf.base_url or not conf.model:
        return None
    llm_metrics = llm_mod.LlmMetrics(metrics.registry)
    client = llm_mod.LlmClient(
        llm_mod.LlmConfig(
            base_url=conf.base_url,
            model=conf.model,
            api_key=conf.api_key.get_secret_value() if conf.api_key else "none",
            timeout_seconds=conf.timeout_seconds,
            max_output_tokens=conf.max_output_tokens,
            max_input_chars=conf.max_input_chars,
        ),
        metrics=llm_metrics,
    )

    async def analyze(evidence: Evidence, fallback: Callable[[Evidence], RcaResult]) -> RcaResult:
        return await rca_llm.analyze_with_llm(
            evidence,
            client=client,
            fallback=fallback,
            playbook_ids=playbook_ids(),
            redact=redactor.redact,
            metrics=llm_metrics,
        )

    return analyze


def _status_writer(kube: kube_mod.Kube) -> operator.StatusWriter:
    """Patch the ``status`` subresource of a Playbook resource (aiops' own object, never a user's)."""

    async def write(body: Mapping[str, Any], status: dict[str, Any]) -> None:
        meta = body.get("metadata") or {}
        await kube.patch(
            str(body.get("apiVersion", "aiops.dev/v1alpha1")),
            "Playbook",
            meta.get("namespace"),
            str(meta.get("name")),
            {"status": status},
            patch_type="merge",
            subresource="status",
        )

    return write


def _fetcher(kube: kube_mod.Kube) -> Fetch:
    """Read an object for a scheduled re-check; None when it no longer exists."""

    async def fetch(api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return await kube.get(api_version, kind, namespace, name)
        except kube_mod.NotFound:
            return None

    return fetch


async def _sweep(services: Services, stop: asyncio.Event) -> None:
    """Every ``approvals.sweep_interval_seconds``: expire undecided approvals past their TTL and end
    their runs, then reconcile runs whose work stopped when Redis failed under them, idle for two
    intervals (``Executor.reconcile``). The cluster itself is never polled. Raises what a pass
    raises: :func:`serve` supervises it (a Redis that refuses writes pauses it with a backoff)."""
    interval = services.settings.approvals.sweep_interval_seconds
    while not stop.is_set():
        await services.executor.sweep()
        await services.executor.reconcile(older_than_seconds=2 * interval)
        await background.pause(stop, interval)


async def serve(
    services: Services,
    *,
    stop: asyncio.Event,
    operator_ready: asyncio.Event | None = None,
    api_started: asyncio.Event | None = None,
    with_api: bool = True,
) -> None:
    """Run operator, API, sweeper and alert intake until ``stop`` is set.

    Resumes persisted runs first (approved steps continue, stale runs expire). ``api_started``
    is set once uvicorn listens (its port is then in ``services.settings.api.port`` unless 0).
    The sweeper and the alert intake are supervised (:func:`aiops.background.supervise`): a
    failure restarts them after a backoff, so Redis faults never end the process. The kopf
    operator and the API server cannot simply be restarted: if either ends (or fails) before
    ``stop`` is set, everything is stopped and :class:`aiops.errors.ComponentFailed` is raised,
    so ``aiops run`` exits non-zero and Kubernetes restarts the pod. Returns normally only after
    ``stop`` was set.
    """
    await services.executor.resume()
    tune_gc()
    registry = operator.build_registry(
        services.pipeline,
        owners=services.owners,
        playbooks=services.playbooks if services.settings.watch_playbook_resources else None,
        server=services.settings.kube.server,
        on_error=lambda stage: services.metrics.pipeline_errors_total.labels(stage=stage).inc(),
        write_status=_status_writer(services.kube),
    )

    def supervised(name: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        return asyncio.create_task(
            background.supervise(name, work, stop=stop, metrics=services.metrics, logger=log), name=name
        )

    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(
            operator.run(registry, stop_flag=stop, ready_flag=operator_ready), name="operator"
        ),
        supervised("sweeper", lambda: _sweep(services, stop)),
    ]
    if services.settings.alertmanager.enabled:
        tasks.append(supervised("alert-intake", lambda: services.intake.run(stop)))
    server: uvicorn.Server | None = None
    if with_api:
        config = uvicorn.Config(
            services.app,
            host=services.settings.api.host,
            port=services.settings.api.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        tasks.append(asyncio.create_task(server.serve(), name="api"))
        if api_started is not None:
            helper = asyncio.create_task(_signal_started(server, api_started, services), name="api-started")
            helper.add_done_callback(lambda _: None)
    stopper = asyncio.create_task(stop.wait(), name="stop")
    ended: asyncio.Task[None] | None = None
    try:
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            ended = next(task for task in tasks if task in done)
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        await asyncio.wait([stopper, *tasks], timeout=15)
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("%s ended with %r", task.get_name(), task.exception())
    if ended is not None:
        raise errors.ComponentFailed(ended.get_name(), _ended(ended))


def _ended(task: asyncio.Task[None]) -> str:
    """Why ``task`` ended before a stop was asked for, for :class:`aiops.errors.ComponentFailed`."""
    name = task.get_name()
    if task.cancelled():
        why = "was cancelled"
    elif task.exception() is not None:
        why = f"failed: {task.exception()!r}"
    else:
        why = "returned"
    return f"the {name} task {why} while aiops was running; stopped everything (exit 1) to be restarted"


async def _signal_started(server: uvicorn.Server, started: asyncio.Event, services: Services) -> None:
    for _ in range(1500):  # uvicorn has no started-callback; it flips ``started`` (30 s at most)
        if server.started:
            sockets = [sock for srv in server.servers for sock in (srv.sockets or ())]
            services.api_port = int(sockets[0].getsockname()[1]) if sockets else services.settings.api.port
            started.set()
            return
        await asyncio.sleep(0.02)
