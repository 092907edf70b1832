"""Every Prometheus collector aiops exports, on a registry of its own (no global state).

Fed by: every stage (dedup, pipeline, executor, gate) through the :class:`Metrics` object built
once by the runtime (``aiops.runtime.services.build``) and passed down. Consumed by: ``GET /metrics``.
Names follow the Prometheus naming guide: ``aiops_`` prefix, ``_total`` counters, ``_seconds``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The collectors, registered on ``self.registry``.

    events_total{type,source}: ClusterEvents seen. incidents_open: open incidents (gauge, set by
    dedup). incidents_opened_total{type}. suppressed_total{reason,type}: events that started
    nothing, by reason (duplicate, cooldown, muted, budget). steps_total{risk,outcome}: step
    outcomes (succeeded, failed, refused, awaiting_approval, rejected, expired, skipped).
    approvals_pending (gauge), approvals_expired_total, approval_decision_seconds: time from
    request to decision (histogram, seconds). task_restarts_total{task}: a supervised task
    (``sweeper``, ``alert-intake``) failed and was started again (``aiops.background.supervise``).
    chat_messages_total{channel,op,outcome}, chat_outbox_depth{channel}, chat_clicks_total{channel,
    outcome}, chat_decision_seconds{channel}: the chat channels (docs/chat.md, "Metrics").
    redis_ready (gauge): 1 when Redis answered PING and took a write at the last check (each
    ``/metrics`` scrape and each ``/readyz`` probe, ``Store.ready_error``), else 0.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_total = Counter(
            "aiops_events_total", "ClusterEvents seen", ["type", "source"], registry=r
        )
        self.incidents_open = Gauge("aiops_incidents_open", "Open incidents", registry=r)
        self.incidents_opened_total = Counter(
            "aiops_incidents_opened_total", "Incidents opened", ["type"], registry=r
        )
        self.incidents_resolved_total = Counter(
            "aiops_incidents_resolved_total", "Incidents resolved", ["type"], registry=r
        )
        self.suppressed_total = Counter(
            "aiops_suppressed_events_total",
            "Events that started nothing, by reason",
            ["reason", "type"],
            registry=r,
        )
        self.steps_total = Counter(
            "aiops_steps_total", "Playbook step outcomes", ["risk", "outcome"], registry=r
        )
        self.runs_total = Counter("aiops_runs_total", "Playbook runs by final state", ["state"], registry=r)
        self.approvals_pending = Gauge("aiops_approvals_pending", "Pending approval requests", registry=r)
        self.approvals_expired_total = Counter(
            "aiops_approvals_expired_total", "Approval requests that expired undecided", registry=r
        )
        self.approval_decision_seconds = Histogram(
            "aiops_approval_decision_seconds",
            "Time from approval request to decision (seconds)",
            ["decision"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600),
            registry=r,
        )
        self.pipeline_errors_total = Counter(
            "aiops_pipeline_errors_total", "Errors caught at a stage boundary", ["stage"], registry=r
        )
        self.task_restarts_total = Counter(
            "aiops_task_restarts_total",
            "Long-lived background tasks (sweeper, alert-intake) started again after a failure",
            ["task"],
            registry=r,
        )

        self.guard_blocks_total = Counter(
            "aiops_guard_blocks_total",
            "Write steps a blast-radius guard stopped, by guard",
            ["guard"],
            registry=r,
        )
        self.guard_decision_seconds = Histogram(
            "aiops_guard_decision_seconds",
            "Time the guards took to decide on one write (seconds)",
            ["phase"],
            buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25),
            registry=r,
        )
        self.verifications_total = Counter(
            "aiops_verifications_total",
            "Outcomes checked after writes: verified, not_verified, skipped",
            ["action", "outcome"],
            registry=r,
        )
        self.escalations_total = Counter(
            "aiops_escalations_total",
            "Runs escalated to people, by reason (a guard's name, not_verified, stale_plan, ...)",
            ["reason"],
            registry=r,
        )
        self.rechecks_total = Counter(
            "aiops_rechecks_total",
            "Re-checks of an approved plan right before acting, by outcome",
            ["outcome"],
            registry=r,
        )
        self.chat_messages_total = Counter(
            "aiops_chat_messages_total",
            "Chat deliveries by channel, operation (post, update, reply) and outcome (ok, retry, failed)",
            ["channel", "op", "outcome"],
            registry=r,
        )
        self.chat_outbox_depth = Gauge(
            "aiops_chat_outbox_depth", "Chat deliveries waiting in the outbox", ["channel"], registry=r
        )
        self.chat_clicks_total = Counter(
            "aiops_chat_clicks_total",
            "Approve/Reject clicks by channel and outcome (decided, voted, refused, late, duplicate, error)",
            ["channel", "outcome"],
            registry=r,
        )
        self.chat_decision_seconds = Histogram(
            "aiops_chat_decision_seconds",
            "Time from the approval request (its chat post) to the decision clicked in chat (seconds)",
            ["channel"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600),
            registry=r,
        )

        self.redis_ready = Gauge(
            "aiops_redis_ready",
            "1 when Redis answered and took a write at the last check (/metrics scrape, /readyz), else 0",
            registry=r,
        )

        self.leader = Gauge(
            "aiops_leader",
            "1 while this replica holds the Lease (lease: its name), else 0; the acting Lease's sum over "
            "replicas is 1 when exactly one acts",
            ["lease"],
            registry=r,
        )
        self.leader_transitions_total = Counter(
            "aiops_leader_transitions_total",
            "Times this replica started (became=leader) or stopped (became=standby) holding a Lease",
            ["lease", "became"],
            registry=r,
        )

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format (version 0.0.4)."""
        return generate_latest(self.registry)
