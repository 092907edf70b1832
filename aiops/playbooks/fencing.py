"""Fenced execution: only the current leader claims steps, writes and moves runs on.

Fed by: the runtime (``aiops.runtime.leadership``), which knows this replica's leadership term
(``term()``: the term Redis recorded when this replica won the acting Lease, None while it does
not lead; ``last_term()``: the last one it began, also after it ended). Consumed by: the
executor (which hands runs to the leader when this replica does not lead), its run book (fenced
step claims, saves only in a current term) and every write of a step
(:attr:`aiops.actions.base.ActionContext.fence`, checked before each API call). Redis keys:
:mod:`aiops.store.fences`.

The rules (docs/operations.md, "High availability"):

* new work starts only on the leader (the Lease renewed within its renew deadline, by this
  process's monotonic clock): a replica that does not lead saves a new run once and queues it
  (the hand-off) for the leader, and queues a run whose approval it decided;
* a step is claimed only while this replica's term is the current one in Redis (no later term
  began), in one script; the claim records the owner and the term's epoch, the step record the
  whole token; each write of the step is sent, and each save of the run made, only after the
  same check. Redis decides, not the local clock: a replica whose event loop stalled past the
  renew deadline and took the Lease back with nobody acting in between continues its term
  (:meth:`aiops.store.fences.Fences.begin_term`) and its work under way is not lost.

A check that fails raises :class:`aiops.errors.FenceLost`: nothing is sent and the run is left as
it stands to the current leader, whose recovery judges the step (claimed: its outcome may be
unknown, never run again; not claimed: it never started).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiops import errors
from aiops.store import Store
from aiops.store.fences import Claim, Term

__all__ = ["Fencing"]


class Fencing:
    """The fence of one executor: ``store`` holds the terms, claims and hand-offs of the Lease
    named ``lease``; ``term()`` is this replica's current term (None while it does not lead);
    ``last_term()`` the last term it began (None before the first)."""

    def __init__(
        self,
        store: Store,
        lease: str,
        term: Callable[[], Term | None],
        last_term: Callable[[], Term | None],
    ) -> None:
        self._fences = store.fences
        self.lease = lease
        self._term = term
        self._last_term = last_term

    def acting(self) -> bool:
        """Whether this replica leads now (a local check: no Redis round trip)."""
        return self._term() is not None

    async def ensure_current(self) -> Term:
        """This replica's last term, when it is still the current one in Redis; raises
        :class:`aiops.errors.FenceLost` otherwise (and StoreUnavailable)."""
        term = self._last_term()
        if term is None:
            raise errors.FenceLost(f"this replica never held the Lease {self.lease!r}")
        if not await self._fences.is_current(self.lease, term.epoch):
            raise errors.FenceLost(f"term {term.token} of the Lease {self.lease!r} is over")
        return term

    async def claim(self, name: str, owner: str) -> Term | None:
        """Claim step ``name`` for ``owner`` in this replica's last term, if it is the current one
        in Redis: the term when taken, None when the step was claimed before. Raises
        :class:`aiops.errors.FenceLost` (nothing claimed) when a later term began or this replica
        never led, and :class:`aiops.errors.StoreUnavailable`."""
        term = self._last_term()
        if term is None:
            raise errors.FenceLost(f"this replica never held the Lease {self.lease!r}")
        taken = await self._fences.claim(self.lease, name, owner=owner, epoch=term.epoch)
        if taken is None:
            raise errors.FenceLost(f"term {term.token} of the Lease {self.lease!r} is over")
        return term if taken else None

    def write_check(self, epoch: int) -> Callable[[], Awaitable[None]]:
        """The check before each write of a step claimed in term ``epoch``: raises
        :class:`aiops.errors.FenceLost` unless that term is still the current one in Redis (and
        StoreUnavailable when Redis does not answer: nothing is sent then)."""

        async def check() -> None:
            if not await self._fences.is_current(self.lease, epoch):
                raise errors.FenceLost(f"term {epoch} of the Lease {self.lease!r} is over")

        return check

    async def claim_of(self, name: str) -> Claim | None:
        """Who holds step claim ``name`` (owner and epoch), None when nobody does."""
        return await self._fences.claim_of(name)

    async def hand_off(self, run_id: str) -> None:
        """Queue ``run_id`` for the leader (raises StoreUnavailable; the leader's reconcile finds
        the run anyway once it has been idle for two sweep intervals)."""
        await self._fences.hand_off(self.lease, run_id)

    async def handed_off(self) -> list[str]:
        """Run ids queued for the leader, oldest first (taken off the queue)."""
        return await self._fences.take_handoffs(self.lease)
