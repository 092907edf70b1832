"""Building the services: every long-lived component, built once from the effective configuration.

Fed by: :func:`aiops.runtime.build` callers (``aiops run`` with ``aiops.config.load``'s result,
the demo, tests and benches with :class:`aiops.settings.Settings`). Builds: store, Kubernetes
client, metrics, deduplicator, approval gate, audit log, run store, executor (with its guards
and verifier), the owner index, the live playbook registry, enricher, pipeline, Alertmanager
intake and the FastAPI app, each handed the pieces it consumes. Consumed by:
:func:`aiops.runtime.serve`, which runs them. Configuration errors (invalid rules or playbooks)
raise :class:`aiops.errors.ValidationFailed` before anything starts: no half-applied config.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from aiops import config as config_mod
from aiops import kube as kube_mod
from aiops.actions import base as actions_base
from aiops.actions import registry as actions_registry
from aiops.actions.catalog import Risk
from aiops.api import auth, webhook
from aiops.api.app import create_app
from aiops.api.deps import ApiDeps
from aiops.approvals import gate as gate_mod
from aiops.approvals.access import KubeAccessReview
from aiops.approvals.policy import ApprovalPolicy
from aiops.audit import AuditLog
from aiops.chat.notifier import Notifier
from aiops.clock import epoch_seconds, utcnow
from aiops.enrichment import enricher as enricher_mod
from aiops.enrichment import llm as llm_mod
from aiops.enrichment import redact as redact_mod
from aiops.enrichment.rca import llm as rca_llm
from aiops.enrichment.rca.model import Evidence, RcaResult
from aiops.enrichment.scrub import Scrubber
from aiops.events import dedup as dedup_mod
from aiops.kube.lease import LeaseElector
from aiops.metrics import Metrics
from aiops.pipeline import Fetch, NamespaceFilter, Pipeline
from aiops.playbooks import executor as executor_mod
from aiops.playbooks.fencing import Fencing
from aiops.playbooks.resources import LivePlaybooks
from aiops.playbooks.runs import Escalation, Run, RunStore
from aiops.rules import engine as engine_mod
from aiops.runtime import chat as chat_mod
from aiops.runtime import leadership
from aiops.safety import guards as guards_mod
from aiops.safety import verify as verify_mod
from aiops.settings import Settings
from aiops.sources.alertmanager import intake as intake_mod
from aiops.sources.kubewatch.owner_index import OwnerIndex
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
    playbooks: LivePlaybooks
    rules: engine_mod.RuleEngine
    owners: OwnerIndex
    app: FastAPI
    intake: intake_mod.Intake
    enricher: enricher_mod.Enricher
    #: Which replica acts: the acting Lease and the leader's work (``leader_election``).
    leadership: leadership.Leadership | None = None
    #: The chat channels, feed and click handler; None when no channel is configured.
    chat: chat_mod.Chat | None = None
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
        if self.chat is not None:
            await self.chat.close()
        await self.kube.close()
        await self.store.close()


def own_namespace(settings: Settings) -> list[str]:
    """The namespace aiops runs in (``settings.pod_namespace``, ``POD_NAMESPACE`` from the downward
    API; else the service account's namespace file), protected from its own writes by default;
    empty outside a cluster."""
    name = settings.pod_namespace or kube_mod.service_account_namespace()
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
    extra_channels: Sequence[Notifier] = (),
) -> Services:
    """Build every component from ``config`` (``aiops.config.load``, as ``aiops run`` does), else from
    ``settings`` loaded the same way. ``extra_channels``: chat channels besides the configured Slack
    and Telegram ones (the demo's console). Raises ValidationFailed on invalid config (nothing is
    started)."""
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
    identity = leadership.candidate_identity()
    acting = _leadership(settings, kube, store, metrics, identity)
    clock = utcnow  # the one wall clock (aiops.clock): every stored instant is read off it
    hooks = chat_mod.ChatHooks()  # bound to the chat feed below, when a channel is configured
    dedup = dedup_mod.Deduplicator(store, metrics=metrics, clock=clock, on_change=hooks.incident)
    approvals = settings.approvals
    gate = gate_mod.ApprovalGate(
        store,
        ApprovalPolicy(
            ttl_seconds={Risk.MEDIUM: approvals.ttl_seconds_medium, Risk.HIGH: approvals.ttl_seconds_high},
            approvers={
                Risk.MEDIUM: frozenset(approvals.approvers_medium),
                Risk.HIGH: frozenset(approvals.approvers_high),
            },
            people={person: frozenset(ids) for person, ids in approvals.people.items()},
            votes={Risk.MEDIUM: approvals.votes_medium, Risk.HIGH: approvals.votes_high},
            votes_by_action=dict(approvals.votes_by_action),
        ),
        metrics=metrics,
        clock=clock,
        scrub=scrub,
        on_change=hooks.request,
    )
    audit = AuditLog(store, scrub=scrub)
    runs = RunStore(store, scrub=scrub, on_saved=hooks.run)
    playbooks = LivePlaybooks(registry)
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
            store,
            settings.safety,
            metrics=metrics,
            protected_namespaces=own_namespace(settings),
            clock=epoch_seconds(clock),
        ),
        verifier=verify_mod.Verifier(kube, poll_seconds=settings.safety.verify_poll_seconds),
        safety=settings.safety,
        on_escalation=_log_escalation,
        clock=clock,
        instance_id=identity,
        fencing=Fencing(store, acting.name, acting.term, acting.last_term) if acting.elected else None,
    )
    owners = OwnerIndex()
    enrichments = enricher_mod.EnrichmentStore(store, scrub=scrub, on_saved=hooks.incident)
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
        clock=clock,
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
    chat = chat_mod.build_chat(
        settings,
        hooks=hooks,
        store=store,
        gate=gate,
        audit=audit,
        metrics=metrics,
        incident=dedup.get,
        run=runs.get,
        enrichment=enrichments.get,
        executor=executor,
        leadership=acting,
        access=KubeAccessReview(kube, gate.policy.people) if approvals.subject_access_review else None,
        extra_channels=extra_channels,
    )
    app = create_app(
        ApiDeps(
            gate=gate,
            executor=executor,
            dedup=dedup,
            audit=audit,
            metrics=metrics,
            kube_ready=kube.ping,
            store_ready=store.ready_error,
            enrichments=enrichments,
            authenticate=auth.Authenticator(
                settings.api.identities(), allow_unauthenticated=settings.api.allow_unauthenticated
            ),
        ),
        webhook=webhook.build_router(intake, settings.alertmanager)
        if settings.alertmanager.enabled
        else None,
        docs=settings.api.docs,
        routers=chat.routers if chat is not None else (),
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
        leadership=acting,
        chat=chat,
    )


def _leadership(
    settings: Settings, kube: kube_mod.Kube, store: Store, metrics: Metrics, identity: str
) -> leadership.Leadership:
    """The acting Lease (``leader_election``) in the operator's namespace (``default`` outside a
    pod), campaigned for as ``identity``; without an elector when leader election is off."""
    conf = settings.leader_election
    elector = None
    if conf.enabled:
        elector = LeaseElector(
            kube,
            namespace=(own_namespace(settings) or [leadership.DEFAULT_LEASE_NAMESPACE])[0],
            name=conf.lease_name,
            identity=identity,
            lease_seconds=conf.lease_duration_seconds,
            renew_deadline_seconds=conf.renew_deadline_seconds,
            retry_seconds=conf.retry_period_seconds,
        )
    return leadership.Leadership(elector, store, metrics)


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


def _fetcher(kube: kube_mod.Kube) -> Fetch:
    """Read an object for a scheduled re-check; None when it no longer exists."""

    async def fetch(api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return await kube.get(api_version, kind, namespace, name)
        except kube_mod.NotFound:
            return None

    return fetch
