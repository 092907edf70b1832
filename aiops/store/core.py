"""The :class:`Store`: the generic primitives plus one object per key family.

Fed by: ``aiops.runtime`` / ``aiops.preflight`` / the demo, which build one store
(``Store.connect(url)``, or ``Store.in_memory()`` for the demo when no Redis answers) and pass it
down. Consumed by: ``aiops.events.dedup`` (``store.incidents``), ``aiops.approvals.gate``
(``store.approvals``), ``aiops.audit`` (``store.audit``), ``aiops.safety.guards``
(``store.reservations``), the chat delivery workers (``store.outbox``), the playbook executor and
runs (the generic primitives: docs, indexes, claims, counters, windows) and the alert intake
(``AlertStream(store)``, :mod:`aiops.store.alerts`).

Each family keeps its key layout next to its atomic operations: :mod:`aiops.store.primitives`,
:mod:`aiops.store.incidents`, :mod:`aiops.store.approvals`, :mod:`aiops.store.auditlog`,
:mod:`aiops.store.reservations`, :mod:`aiops.store.alerts`, :mod:`aiops.store.outbox`,
:mod:`aiops.store.fences`.
Connection, cluster mode, hash tags and scripts: :mod:`aiops.store.connection`; error mapping:
:mod:`aiops.store.failures`.
"""

from __future__ import annotations

from functools import cached_property

from aiops.store.approvals import Approvals
from aiops.store.auditlog import AuditStream
from aiops.store.fences import Fences
from aiops.store.incidents import Incidents
from aiops.store.outbox import Outbox
from aiops.store.primitives import Primitives
from aiops.store.reservations import Reservations

__all__ = ["Store"]


class Store(Primitives):
    """A Redis (single, cluster or in-memory) with a key prefix: the generic primitives as methods,
    the key families as properties (built once per store). Every operation raises
    :class:`aiops.errors.StoreUnavailable` when Redis does not answer or refuses for now."""

    @cached_property
    def incidents(self) -> Incidents:
        """Incidents and their dedup keys (``{incidents}`` tag)."""
        return Incidents(self)

    @cached_property
    def approvals(self) -> Approvals:
        """Approval requests and decisions (``{approvals}`` tag)."""
        return Approvals(self)

    @cached_property
    def audit(self) -> AuditStream:
        """The audit stream (one key)."""
        return AuditStream(self)

    @cached_property
    def reservations(self) -> Reservations:
        """The blast-radius guards' budgets, rate limits and leases (``{guards}`` tag)."""
        return Reservations(self)

    @cached_property
    def fences(self) -> Fences:
        """Leadership terms, fenced step claims and the leader's hand-off queue (``{fence}`` tag)."""
        return Fences(self)

    @cached_property
    def outbox(self) -> Outbox:
        """The chat channels' delivery queues and message locations (``{outbox}`` tag)."""
        return Outbox(self)
