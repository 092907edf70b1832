"""The fencing key family: leadership terms, fenced step claims and the leader's hand-off queue.

Fed by: :mod:`aiops.runtime.leadership` (a replica that wins the acting Lease begins a term;
the write check before every API write) and the run book (``aiops.playbooks.book``: the step
claim, taken only while the claimant's term is current; followers hand runs to the leader).
Consumed by: Redis. Every key carries the hash tag ``{fence}``, so the claim script, which reads
the term and writes the claim, touches one slot on a Redis Cluster (Redis docs, "Keys hash
tags"). Key layout, under the store prefix (default ``aiops:``)::

    {fence}:term:<lease>        hash    epoch (incremented by each new term), holder (the Lease's
                                        holderIdentity), transitions (its leaseTransitions), since
    {fence}:claim:<name>        string  "<owner> <epoch>": the step claim, taken once (SET NX)
    {fence}:handoff:<lease>     list    run ids a follower created or saw decided, for the leader
                                        to advance (LPUSH by followers, RPOP by the leader)

Why an epoch of its own and not ``leaseTransitions`` alone: a Lease that is deleted and created
again starts its transitions at 0, and a term must still be newer than every earlier one. The
epoch only grows (``HINCRBY``); the Lease's holder and transitions are recorded beside it, so an
operator reading Redis sees which Lease term an epoch was.

The guarantee (Martin Kleppmann, "How to do distributed locking", 2016: a lock needs a fencing
token that the resource checks): a step is claimed only while the claimant's epoch is the current
one (one script), and each write of the step is sent only after the same check. A leader that
was deposed while paused (GC, SIGSTOP, a partition) and wakes up late finds a newer epoch and
writes nothing. The one window left is between the check and the API server receiving the write
(the API server itself cannot check a Redis token); ``resourceVersion`` preconditions on the
planned calls close it for the writes that carry one.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiops.store.connection import StoreCore
from aiops.store.failures import guarded

__all__ = ["Claim", "Fences", "Term"]

TAG = "fence"

#: KEYS[1] term; ARGV[1] holder, ARGV[2] transitions, ARGV[3] since (epoch seconds), ARGV[4]
#: '1' to begin even after a term of more transitions. Returns {epoch, transitions} of the term
#: now current: the holder's own current term when it began it (it continues), else a new one;
#: {-1, 0} when refused.
_BEGIN_LUA = """
local current = redis.call('HMGET', KEYS[1], 'epoch', 'holder', 'transitions')
if current[1] and current[2] == ARGV[1] then
  return {tonumber(current[1]), tonumber(current[3] or '0')}
end
if current[1] and ARGV[4] ~= '1' and tonumber(current[3] or '0') > tonumber(ARGV[2]) then
  return {-1, 0}
end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'transitions', ARGV[2], 'since', ARGV[3])
return {epoch, tonumber(ARGV[2])}
"""

#: KEYS[1] term, KEYS[2] claim; ARGV[1] owner, ARGV[2] epoch.
#: Returns -1 when the epoch is not the current one, 1 when claimed, 0 when claimed before.
_CLAIM_LUA = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return -1 end
if redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. ARGV[2], 'NX') then return 1 end
return 0
"""


@dataclass(frozen=True)
class Term:
    """One leadership term as Redis recorded it: ``epoch`` (greater for every later term),
    ``holder`` and ``transitions`` (the Lease's ``holderIdentity`` and ``leaseTransitions`` when
    the term began)."""

    epoch: int
    holder: str
    transitions: int

    @property
    def token(self) -> str:
        """``<epoch>/<transitions>/<holder>``: the fencing token as recorded on a step."""
        return f"{self.epoch}/{self.transitions}/{self.holder}"


@dataclass(frozen=True)
class Claim:
    """Who holds a fenced step claim (``owner``: an executor's instance id) and in which term."""

    owner: str
    epoch: int


class Fences:
    """The ``{fence}`` family of one store (see the module docstring). Every method raises
    :class:`aiops.errors.StoreUnavailable` when Redis does not answer."""

    def __init__(self, store: StoreCore) -> None:
        self._store = store

    def _key(self, *parts: str) -> str:
        return self._store._tagged(TAG, *parts)

    @guarded
    async def begin_term(
        self, lease: str, *, holder: str, transitions: int, since: float, force: bool = False
    ) -> Term | None:
        """Start a new term of ``lease`` for ``holder`` (``since``: epoch seconds); every earlier
        term's claims and writes are refused from now on. Returns the term with its epoch.

        None (nothing written) when the current term was begun with more Lease transitions than
        ``transitions``: the caller won the Lease before that term's holder did, so it is a
        candidate that was paused between winning and recording and no longer holds the Lease.
        ``force`` begins it anyway: for a leader that keeps holding the Lease while refused,
        which happens when the Lease was deleted and created again (its transitions restart at 0).

        When ``holder`` began the current term itself (it lost the Lease locally, e.g. its event
        loop stalled past the renew deadline, and took it back with nobody else beginning a term
        in between), that term continues with its epoch: no other replica acted since, so its
        claims and writes under way stay valid."""
        epoch, recorded = await self._store._eval(
            _BEGIN_LUA,
            [self._key("term", lease)],
            [holder, transitions, f"{since:.3f}", "1" if force else "0"],
        )
        if int(epoch) < 0:
            return None
        return Term(epoch=int(epoch), holder=holder, transitions=int(recorded))

    @guarded
    async def current(self, lease: str) -> Term | None:
        """The current term of ``lease``, None before the first."""
        got = await self._store._r.hgetall(self._key("term", lease))
        if not got or "epoch" not in got:
            return None
        holder, transitions = str(got.get("holder", "")), int(got.get("transitions", 0))
        return Term(epoch=int(got["epoch"]), holder=holder, transitions=transitions)

    @guarded
    async def is_current(self, lease: str, epoch: int) -> bool:
        """Whether ``epoch`` is ``lease``'s current term (the check before each write)."""
        return await self._store._r.hget(self._key("term", lease), "epoch") == str(epoch)

    @guarded
    async def claim(self, lease: str, name: str, *, owner: str, epoch: int) -> bool | None:
        """Take step claim ``name`` for ``owner`` in term ``epoch`` of ``lease``, in one script:
        True when taken, False when it was taken before (by anyone), None when ``epoch`` is no
        longer current (nothing written: a deposed leader claims nothing)."""
        got = int(
            await self._store._eval(
                _CLAIM_LUA, [self._key("term", lease), self._key("claim", name)], [owner, str(epoch)]
            )
        )
        return None if got < 0 else bool(got)

    @guarded
    async def claim_of(self, name: str) -> Claim | None:
        """Who holds step claim ``name`` and in which term; None when nobody took it."""
        value = await self._store._r.get(self._key("claim", name))
        if value is None:
            return None
        owner, _, epoch = str(value).rpartition(" ")
        return Claim(owner=owner, epoch=int(epoch))

    @guarded
    async def hand_off(self, lease: str, run_id: str) -> None:
        """Queue ``run_id`` for the leader of ``lease`` to advance."""
        await self._store._r.lpush(self._key("handoff", lease), run_id)

    @guarded
    async def take_handoffs(self, lease: str, *, most: int = 100) -> list[str]:
        """Up to ``most`` queued run ids, oldest first (removed from the queue)."""
        got = await self._store._r.rpop(self._key("handoff", lease), most)
        return [str(run_id) for run_id in got or []]
