"""Leader election on a ``coordination.k8s.io/v1`` Lease, with a fencing token.

Fed by: the runtime (issue 12: only the leader launches runs, executes steps, verifies, sweeps and
polls Telegram), through :class:`LeaseElector`. Consumed by: the Kubernetes API (GET, POST and PUT
of one Lease, through :class:`aiops.kube.Kube`).

The algorithm is client-go's ``tools/leaderelection`` (``tryAcquireOrRenew``), with its fields of
the Lease spec (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/lease-v1/):
``holderIdentity``, ``leaseDurationSeconds``, ``acquireTime``, ``renewTime``, ``leaseTransitions``.

* A candidate creates the Lease when it does not exist, else takes it when it holds it already,
  when nobody holds it (a released Lease), or when the record has not changed for
  ``leaseDurationSeconds`` *as observed by this candidate's own monotonic clock* (as client-go
  does: a remote ``renewTime`` is never compared with the local wall clock, so clock skew between
  nodes cannot depose a live leader).
* Every update is a PUT carrying the ``resourceVersion`` read: of two candidates taking an expired
  Lease at once, the API server lets one through and answers the other 409 Conflict.
* Taking the Lease from another holder increments ``leaseTransitions``. The pair
  (``leaseTransitions``, ``holderIdentity``) is the fencing token (:class:`Fence`): it changes
  whenever leadership changes hands, so a deposed leader that wakes up late (a GC pause, a
  partition) holds a stale token that a write path can refuse.
* A leader that cannot renew within ``renew_deadline_seconds`` stops leading (before the Lease can
  expire for the others); :meth:`LeaseElector.release` gives the Lease up at once on a clean
  shutdown (holder cleared, as client-go's ``ReleaseOnCancel``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiops.kube.api_errors import ApiError, Conflict, NotFound
from aiops.kube.client import Kube

__all__ = ["LEASE_API_VERSION", "Fence", "LeaseElector", "micro_time"]

log = logging.getLogger(__name__)

LEASE_API_VERSION = "coordination.k8s.io/v1"


def micro_time(at: datetime) -> str:
    """``at`` as the API's MicroTime: RFC 3339 with microseconds, UTC (``2026-12-03T18:20:00.123456Z``)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, order=True)
class Fence:
    """The fencing token of a leadership term: ``transitions`` (the Lease's ``leaseTransitions``
    when this holder took it) and ``holder`` (its identity). A later term has a greater
    ``transitions``; a write path that records the token with each claim refuses one whose token is
    not the current one."""

    transitions: int
    holder: str


class LeaseElector:
    """One candidate for the Lease ``namespace``/``name`` as ``identity`` (unique per process,
    e.g. the pod name plus a random suffix).

    ``lease_seconds``: how long a record that stopped changing is honoured (client-go default 15);
    ``renew_deadline_seconds``: how long a leader keeps trying to renew before it stops leading
    (default 10, less than ``lease_seconds``); ``retry_seconds``: the pause between attempts
    (default 2). ``monotonic``: seconds, for the observed expiry; ``clock``: the wall clock written
    into ``acquireTime``/``renewTime``. Raises ValueError for inconsistent durations.
    """

    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: float = 15.0,
        renew_deadline_seconds: float = 10.0,
        retry_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 0 < retry_seconds < renew_deadline_seconds < lease_seconds:
            raise ValueError("need 0 < retry_seconds < renew_deadline_seconds < lease_seconds")
        self._kube = kube
        self.namespace, self.name, self.identity = namespace, name, identity
        self._lease_seconds = lease_seconds
        self._renew_deadline = renew_deadline_seconds
        self._retry = retry_seconds
        self._monotonic = monotonic
        self._clock = clock
        self._observed: tuple[str, float] | None = None  # (record as seen, when first seen)
        self._fence: Fence | None = None
        self._renewed_at: float | None = None

    @property
    def retry_seconds(self) -> float:
        """The pause between attempts to acquire or renew (seconds)."""
        return self._retry

    @property
    def fence(self) -> Fence | None:
        """The current term's fencing token while this candidate leads, else None."""
        return self._fence

    @property
    def leading(self) -> bool:
        """Whether this candidate leads now (it renewed within ``renew_deadline_seconds``)."""
        return (
            self._fence is not None
            and self._renewed_at is not None
            and self._monotonic() - self._renewed_at < self._renew_deadline
        )

    async def try_acquire_or_renew(self) -> bool:
        """One attempt (client-go ``tryAcquireOrRenew``): True when this candidate now holds the
        Lease. A lost race (409), a Lease held by a live leader, or an API error is False (logged);
        never raises but CancelledError."""
        try:
            taken = await self._attempt()
        except Conflict:
            taken = False  # another candidate wrote the Lease between our read and our write
        except ApiError as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            taken = False
        if taken:
            self._renewed_at = self._monotonic()
        elif not self.leading:
            self._fence = None
        return taken

    async def _attempt(self) -> bool:
        now = self._clock()
        try:
            lease = await self._kube.get(LEASE_API_VERSION, "Lease", self.namespace, self.name)
        except NotFound:
            created = await self._kube.create(
                LEASE_API_VERSION, "Lease", self.namespace, self._body(None, now, transitions=0, acquired=now)
            )
            self._took(created)
            return True
        spec: dict[str, Any] = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        self._observe(lease)
        if holder and holder != self.identity and not self._expired():
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        acquired = spec.get("acquireTime") if holder == self.identity else micro_time(now)
        if holder != self.identity:
            transitions += 1  # a new term, also after a release (client-go does the same)
        stored = await self._kube.replace(
            LEASE_API_VERSION,
            "Lease",
            self.namespace,
            self.name,
            self._body(lease, now, transitions=transitions, acquired=acquired),
        )
        self._took(stored)
        return True

    def _body(
        self, lease: dict[str, Any] | None, now: datetime, *, transitions: int, acquired: Any
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if lease is not None:
            metadata = {**lease.get("metadata", {}), **metadata}
        return {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self._lease_seconds)),
                "acquireTime": acquired if isinstance(acquired, str) else micro_time(acquired),
                "renewTime": micro_time(now),
                "leaseTransitions": transitions,
            },
        }

    def _took(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        self._fence = Fence(int(spec.get("leaseTransitions") or 0), self.identity)
        self._observe(lease)

    def _observe(self, lease: dict[str, Any]) -> None:
        """Remember when the record last changed, by this process's monotonic clock."""
        version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        if self._observed is None or self._observed[0] != version:
            self._observed = (version, self._monotonic())

    def _expired(self) -> bool:
        return self._observed is not None and self._monotonic() - self._observed[1] >= self._lease_seconds

    async def release(self) -> None:
        """Give the Lease up now if this candidate holds it (holder cleared, duration 1 s), so
        another takes over without waiting for it to expire; never raises but CancelledError."""
        if self._fence is None:
            return
        self._fence = None
        self._renewed_at = None
        try:
            lease = await self._kube.get(LEASE_API_VERSION, "Lease", self.namespace, self.name)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            released = {
                **lease,
                "spec": {**spec, "holderIdentity": None, "leaseDurationSeconds": 1},
            }
            await self._kube.replace(LEASE_API_VERSION, "Lease", self.namespace, self.name, released)
            log.info("lease %s/%s released by %s", self.namespace, self.name, self.identity)
        except ApiError as exc:
            log.warning("lease %s/%s not released: %s", self.namespace, self.name, exc)

    async def run(self, stop: asyncio.Event, on_change: Callable[[bool], None] | None = None) -> None:
        """Campaign and renew every ``retry_seconds`` until ``stop`` is set, then release.
        ``on_change(leading)`` is called when leadership is won or lost."""
        was = False
        try:
            while not stop.is_set():
                await self.try_acquire_or_renew()
                now = self.leading
                if now != was:
                    log.info("lease %s/%s: %s %s", self.namespace, self.name, self.identity,
                             "leads" if now else "stopped leading")  # fmt: skip
                    if on_change is not None:
                        on_change(now)
                    was = now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._retry)
        finally:
            await self.release()
            if was and on_change is not None:
                on_change(False)
