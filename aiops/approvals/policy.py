"""Who may decide an approval request, how many people must approve it, and how long it waits.

Fed by: the runtime (``aiops.runtime.services``), which builds one :class:`ApprovalPolicy` from
:class:`aiops.settings.ApprovalSettings`. Consumed by: the approval gate (``aiops.approvals.gate``:
TTLs, votes needed, the person behind an identity) and the chat click handler
(``aiops.chat.decide``: who may click). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aiops import settings
from aiops.actions.catalog import Risk

__all__ = ["DEFAULT_TTL_SECONDS", "DEFAULT_VOTES_BY_ACTION", "ApprovalPolicy", "not_a_person"]

#: How long a request waits for a decision when the policy names no TTL for its risk (seconds).
DEFAULT_TTL_SECONDS = 900
#: Distinct approvers per action unless configured (``approvals.votes_by_action``): a drain
#: evicts every pod of a node, so two people must agree.
DEFAULT_VOTES_BY_ACTION: Mapping[str, int] = MappingProxyType({"drain": 2})


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who may decide what, how many must approve, and for how long requests wait.

    ``ttl_seconds``: per risk, seconds from request to expiry (default 900 for medium and high;
    other risks fall back to :data:`DEFAULT_TTL_SECONDS`). ``approvers``: per risk, the identity
    strings allowed to decide (:class:`aiops.settings.ApprovalSettings`: an API identity name,
    ``slack:<team>/<user>``, ``slack-group:<group>``, ``telegram:<user id>``, or a person's name
    under ``people``). ``people``: person → the identities that are that person; a person's vote
    counts once across every channel and is recorded under the person's name. ``votes``: per
    risk, how many distinct people must approve (default 1); ``votes_by_action``: per action, and
    it wins over the risk's (default ``drain: 2``). ``retention_seconds``: how long decided
    requests stay queryable (default 7 days).
    """

    ttl_seconds: Mapping[Risk, int] = field(
        default_factory=lambda: {Risk.MEDIUM: DEFAULT_TTL_SECONDS, Risk.HIGH: DEFAULT_TTL_SECONDS}
    )
    approvers: Mapping[Risk, frozenset[str]] = field(default_factory=dict)
    retention_seconds: int = 7 * 24 * 3600
    people: Mapping[str, frozenset[str]] = field(default_factory=dict)
    votes: Mapping[Risk, int] = field(default_factory=dict)
    votes_by_action: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_VOTES_BY_ACTION))
    _owner: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = {identity: person for person, identities in self.people.items() for identity in identities}
        object.__setattr__(self, "_owner", owner)

    def ttl_for(self, risk: Risk) -> int:
        """Seconds a request of ``risk`` waits before it expires."""
        return self.ttl_seconds.get(risk, DEFAULT_TTL_SECONDS)

    def votes_needed(self, risk: Risk, action: str) -> int:
        """Distinct people who must approve a step of ``action`` at ``risk``: the action's count,
        else the risk's, else 1."""
        return max(1, self.votes_by_action.get(action, self.votes.get(risk, 1)))

    def person(self, identity: str) -> str:
        """The name of the person ``identity`` belongs to (``people``), else ``identity`` itself."""
        return self._owner.get(identity, identity)

    def identities(self, identity: str) -> frozenset[str]:
        """Every identity of the person ``identity`` belongs to, ``identity`` and the person's name
        included (the name alone when it is an API identity without a ``people`` entry)."""
        person = self.person(identity)
        return frozenset({identity, person}) | self.people.get(person, frozenset())

    def allows(self, risk: Risk, identity: str, groups: Iterable[str] = ()) -> bool:
        """Whether ``identity`` (an identity key; ``groups``: the Slack user group ids the clicker
        is in) may decide a request of ``risk``.

        An API identity (no ``:``): any non-empty identity when the risk's list is empty, else only
        when it or another identity of the same person is listed. A chat identity (``slack:``,
        ``telegram:``, ...): only when it, another identity of the same person, or one of its
        ``slack-group:<g>`` is listed; an empty list lets nobody decide from chat. Telegram's
        anonymous-admin and service ids (:data:`aiops.settings.TELEGRAM_NOT_A_PERSON`) never."""
        if not identity or not_a_person(identity):
            return False
        allowed = self.approvers.get(risk, frozenset())
        if not allowed:
            return ":" not in identity
        if self.identities(identity) & allowed:
            return True
        return any(f"slack-group:{group}" in allowed for group in groups)


def not_a_person(identity: str) -> bool:
    """A Telegram identity of the anonymous group admin or the service account (anyone)."""
    scheme, _, user = identity.partition(":")
    return scheme == "telegram" and user.isdigit() and int(user) in settings.TELEGRAM_NOT_A_PERSON
