"""Which replica acts: the leader's work runs only while this process holds the acting Lease.

Fed by: the runtime (``aiops.runtime.services`` builds one :class:`Leadership` from
``settings.leader_election``; ``aiops.runtime.serve`` adds the leader's work: resume, the sweeper,
the hand-off follower; ``aiops.runtime.chat`` adds Telegram long polling, of which the Bot API
allows one per bot token, https://core.telegram.org/bots/api#getupdates). Consumed by:
:class:`aiops.kube.lease.LeaseElector` (the ``coordination.k8s.io/v1`` Lease), the store's
``{fence}`` family (:mod:`aiops.store.fences`: each term is recorded in Redis before any work
starts) and the executor's :class:`aiops.playbooks.fencing.Fencing`, which reads :meth:`term`.

A term, from the win to the end:

1. the elector wins the Lease (client-go's algorithm, ``aiops.kube.lease``);
2. a new term is begun in Redis (its epoch is greater than every earlier term's; from then on
   every claim or write of an earlier term is refused), retried while Redis does not answer;
3. the leader's work runs, each piece supervised (:func:`aiops.background.supervise`), until
   the Lease is lost (not renewed within the renew deadline) or a stop is asked for;
4. on a stop: the work is stopped, runs and verifications under way get ``drain`` (the
   executor's drain, up to its timeout), and only then is the Lease released, so the next leader
   starts after this one wrote its last; on a loss the work is stopped at once (what is under way
   meets the fence).

``aiops_leader{lease}`` is 1 while a term runs here, ``aiops_leader_transitions_total{lease,
became}`` counts terms begun and ended. Without an elector (``leader_election.enabled: false``)
the work runs from start to stop and :meth:`term` is None (writes are not fenced).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable

from aiops import background, errors
from aiops.kube.lease import LeaseElector
from aiops.metrics import Metrics
from aiops.store import Store
from aiops.store.fences import Term

__all__ = ["DEFAULT_LEASE_NAMESPACE", "Leadership", "Work", "candidate_identity"]

log = logging.getLogger(__name__)

#: Where Leases live when aiops runs outside a pod and no namespace is configured.
DEFAULT_LEASE_NAMESPACE = "default"

#: How often the elector's local view of the Lease is read (seconds): a term begins or ends
#: within this of the elector winning or losing (the Lease itself is renewed every retry period).
_POLL_SECONDS = 0.05

#: How often a leader checks that its term is still the one recorded in Redis (seconds).
_TERM_CHECK_SECONDS = 1.0

#: Refusals of a new term (a term of more Lease transitions is recorded) before it is forced.
_REFUSALS_BEFORE_FORCE = 3

#: A piece of the leader's work: runs until its event is set (the term ends).
Work = Callable[[asyncio.Event], Awaitable[None]]


def candidate_identity() -> str:
    """This process as a Lease candidate: the pod name (``HOSTNAME`` in a pod, else the host
    name), the process id and a random suffix, so two processes never share an identity."""
    host = os.environ.get("HOSTNAME") or socket.gethostname()
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


class Leadership:
    """The acting Lease of this process (see the module docstring).

    ``elector``: the candidate (None: leader election off, this process acts alone); ``store``:
    where terms are recorded; ``metrics``: ``aiops_leader`` and its transitions; ``drain``: awaited
    after the work stopped and before the Lease is released on a stop (the executor's drain);
    ``wall``: epoch seconds, recorded as the term's start.
    """

    def __init__(
        self,
        elector: LeaseElector | None,
        store: Store,
        metrics: Metrics,
        *,
        drain: Callable[[], Awaitable[object]] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._elector = elector
        self._store = store
        self._metrics = metrics
        self.drain = drain
        self._wall = wall
        self._works: list[tuple[str, Work]] = []
        self._term: Term | None = None
        self._last: Term | None = None
        self.name = elector.name if elector is not None else "local"

    @property
    def elected(self) -> bool:
        """Whether leader election is on (an elector campaigns for the Lease)."""
        return self._elector is not None

    def add(self, name: str, work: Work) -> None:
        """Run ``work`` in every term (call before :meth:`run`)."""
        self._works.append((name, work))

    def term(self) -> Term | None:
        """This replica's current term while it leads (renewed within the renew deadline, by its
        monotonic clock, and recorded in Redis); None otherwise, and always without an elector."""
        if self._elector is None or self._term is None or not self._elector.leading:
            return None
        return self._term

    def last_term(self) -> Term | None:
        """The term this replica began last, also after it ended (what its work under way was
        claimed in; the fence in Redis decides whether that work may still write); None before
        the first, and always without an elector."""
        return self._last

    async def run(self, stop: asyncio.Event) -> None:
        """Campaign and run the leader's work in each term until ``stop`` (see the module
        docstring); releases the Lease last. Never raises but CancelledError."""
        if self._elector is None:
            self._leading(True)
            try:
                await self._lead(stop, lambda: False)
            finally:
                self._leading(False)
            return
        elector = self._elector
        campaign_stop = asyncio.Event()
        campaign = asyncio.create_task(elector.run(campaign_stop), name=f"lease:{elector.name}")
        try:
            while not stop.is_set():
                if not elector.leading:  # a local property: polled, as the Lease is renewed
                    await background.pause(stop, _POLL_SECONDS)
                    continue
                term = await self._begin(stop)
                if term is None:
                    continue
                self._term = self._last = term
                self._leading(True)
                log.info("lease %s: term %s begins: this replica acts", self.name, term.token)
                try:
                    await self._lead(stop, lambda: not elector.leading, term)
                finally:
                    self._term = None
                    self._leading(False)
                    log.info("lease %s: term %s ends", self.name, term.token)
        finally:
            if self.drain is not None and stop.is_set():
                await self.drain()  # the last writes land before the next leader begins
            campaign_stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await campaign

    async def _begin(self, stop: asyncio.Event) -> Term | None:
        """Record a new term in Redis for the Lease just won, retrying while Redis does not
        answer; None when leadership is lost or a stop comes first. A term of more Lease
        transitions refuses it (a stale candidate); refused :data:`_REFUSALS_BEFORE_FORCE`
        times while this replica still holds the Lease, it begins anyway (the Lease was
        recreated and its transitions restarted)."""
        assert self._elector is not None
        backoff = background.Backoff(first_seconds=0.2, max_seconds=5.0)
        refused = 0
        while not stop.is_set():
            fence = self._elector.fence
            if fence is None or not self._elector.leading:
                return None
            try:
                term = await self._store.fences.begin_term(
                    self.name,
                    holder=fence.holder,
                    transitions=fence.transitions,
                    since=self._wall(),
                    force=refused >= _REFUSALS_BEFORE_FORCE,
                )
            except errors.StoreUnavailable as exc:
                delay = backoff.next(exc.delay_seconds)
                log.warning("lease %s won, but Redis did not record the term (retry in %.1f s): %s",
                            self.name, delay, exc)  # fmt: skip
                await background.pause(stop, delay)
                continue
            if term is not None:
                return term
            refused += 1
            log.warning(
                "lease %s: a term of more Lease transitions than ours (%d) is recorded; "
                "checking that this replica still holds the Lease",
                self.name,
                fence.transitions,
            )
            await background.pause(stop, self._elector.retry_seconds)
        return None

    async def _lead(self, stop: asyncio.Event, lost: Callable[[], bool], term: Term | None = None) -> None:
        """Run every work, supervised, until ``stop`` or ``lost()`` or, every
        :data:`_TERM_CHECK_SECONDS`, ``term`` found superseded in Redis while this replica still
        holds the Lease (a stale candidate recorded a term after all: this one ends and a newer
        one begins, so the leader never stays fenced out); then stop and await them."""
        term_stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                background.supervise(
                    name, _bound(work, term_stop), stop=term_stop, metrics=self._metrics, logger=log
                ),
                name=f"leader:{name}",
            )
            for name, work in self._works
        ]
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            while not stop.is_set() and not lost():
                await background.pause(stop, _POLL_SECONDS)
                if term is not None and loop.time() - checked >= _TERM_CHECK_SECONDS:
                    checked = loop.time()
                    if await self._superseded(term):
                        return
        finally:
            term_stop.set()
            if tasks:
                await asyncio.wait(tasks, timeout=15)
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _superseded(self, term: Term) -> bool:
        """Whether a later term than ``term`` is recorded in Redis (False when Redis does not
        answer: the work meets the fence there anyway)."""
        try:
            superseded = not await self._store.fences.is_current(self.name, term.epoch)
        except errors.StoreUnavailable:
            return False
        if superseded:
            log.warning("lease %s: term %s was superseded in Redis while this replica holds the Lease; "
                        "beginning a new one", self.name, term.token)  # fmt: skip
        return superseded

    def _leading(self, now: bool) -> None:
        self._metrics.leader.labels(lease=self.name).set(1 if now else 0)
        became = "leader" if now else "standby"
        self._metrics.leader_transitions_total.labels(lease=self.name, became=became).inc()


def _bound(work: Work, stop: asyncio.Event) -> Callable[[], Awaitable[None]]:
    return lambda: work(stop)
