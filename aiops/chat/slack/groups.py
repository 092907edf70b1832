"""Which of the configured approver user groups a Slack user is in, asked of Slack and cached.

Fed by: :class:`aiops.chat.slack.interactions.SlackInteractions`, once per click, with the
clicker's user id. Consumed by: the Web API method ``usergroups.users.list``
(https://api.slack.com/methods/usergroups.users.list, scope ``usergroups:read``), one call per
group at most every ``ttl_seconds``.

The answer fills :attr:`aiops.chat.clicks.ChatIdentity.groups`, which the click handler matches
against the ``slack-group:S…`` approver identities (:class:`aiops.settings.ApprovalSettings`).
A group Slack cannot list (an error, a timeout) counts as one the user is not in for this click,
and is asked again on the next one: failing closed, never granting by mistake.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["DEFAULT_TTL_SECONDS", "GroupMembership", "group_ids"]

log = logging.getLogger(__name__)

#: How long a group's member list is trusted (seconds).
DEFAULT_TTL_SECONDS = 60.0


def group_ids(approvers: Iterable[str]) -> frozenset[str]:
    """The user group ids (``S…``) among approver identities: ``slack-group:S01`` gives ``S01``;
    a bare ``S01`` is taken as it is; every other identity is ignored."""
    ids = set()
    for approver in approvers:
        scheme, sep, rest = approver.strip().partition(":")
        if sep and scheme == "slack-group" and rest:
            ids.add(rest)
        elif not sep and scheme.startswith("S") and scheme.isalnum():
            ids.add(scheme)
    return frozenset(ids)


class GroupMembership:
    """The members of ``groups`` (user group ids ``S…``), read with ``client`` and kept for
    ``ttl_seconds`` (measured on ``monotonic``, seconds)."""

    def __init__(
        self,
        client: AsyncWebClient,
        groups: Iterable[str],
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._groups = tuple(sorted(group_ids(groups)))
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._locks = {group: asyncio.Lock() for group in self._groups}

    async def _members_of(self, group: str) -> frozenset[str]:
        async with self._locks[group]:
            cached = self._members.get(group)
            now = self._monotonic()
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
            try:
                response = await self._client.usergroups_users_list(usergroup=group)
            except Exception as error:  # an unreadable group grants nothing
                log.warning("slack usergroups.users.list %s failed: %s", group, error)
                return frozenset()
            users = frozenset(str(u) for u in response.get("users") or ())
            self._members[group] = (now, users)
            return users

    async def of(self, user_id: str) -> tuple[str, ...]:
        """The configured groups ``user_id`` is a member of, sorted; never raises (a group that
        cannot be read is left out)."""
        found = []
        for group in self._groups:
            if user_id in await self._members_of(group):
                found.append(group)
        return tuple(found)
