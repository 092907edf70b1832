"""The click seam: a button pressed in a chat, in the same shape whatever the channel.

Fed by: each chat channel's interaction handler (Slack ``block_actions``, Telegram
``callback_query``), which turns what the service sent into a :class:`Click` with the clicker's
:class:`ChatIdentity` (numeric ids only, never a display name). Consumed by: a
:class:`ClickHandler` (:class:`aiops.chat.decide.Decider` in the runtime), which authorizes the
person, counts the vote or takes the decision on the approval gate, audits it, and answers with a
:class:`ClickAnswer` the channel shows the clicker (an ephemeral message in Slack, the
``answerCallbackQuery`` text in Telegram).

What a button carries is only the approval request's opaque id and the verb: Slack's
``action_id`` (:data:`SLACK_APPROVE`/:data:`SLACK_REJECT`) with the id as ``value``; Telegram's
``callback_data`` ``a:<id>``/``r:<id>`` (34 bytes, within Telegram's 64-byte limit:
https://core.telegram.org/bots/api#inlinekeyboardbutton), built and read by
:func:`callback_data` and :func:`parse_callback_data`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from aiops.approvals.model import ApprovalRequest

__all__ = [
    "SLACK_APPROVE",
    "SLACK_REJECT",
    "ChatIdentity",
    "Click",
    "ClickAnswer",
    "ClickHandler",
    "ClickOutcome",
    "callback_data",
    "parse_callback_data",
]

#: Slack ``action_id`` of the Approve and Reject buttons; the button's ``value`` is the request id.
SLACK_APPROVE = "aiops_approve"
SLACK_REJECT = "aiops_reject"

_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


class ChatIdentity(BaseModel):
    """Who clicked, as the service identifies them: ``channel`` (``slack``, ``telegram``),
    ``user_id`` (Slack ``U…``/``W…``, Telegram's numeric user id as text), ``team_id`` (Slack
    workspace ``T…``/``E…``; None in Telegram), ``chat_id`` (where the click happened: a Slack
    channel id, a Telegram chat id as text), ``groups`` (Slack user groups ``S…`` the user is in,
    as far as the channel resolved them for this click) and ``display`` (how to name them in that
    channel's messages, e.g. ``<@U0456>``; never used to authorize)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    user_id: str
    team_id: str | None = None
    chat_id: str | None = None
    groups: tuple[str, ...] = ()
    display: str = ""

    def key(self) -> str:
        """The identity as approvers are configured (:class:`aiops.settings.ApprovalSettings`):
        ``slack:<team>/<user>``, ``telegram:<user>``, else ``<channel>:<user>``."""
        if self.channel == "slack":
            return f"slack:{self.team_id or '-'}/{self.user_id}"
        return f"{self.channel}:{self.user_id}"


class Click(BaseModel):
    """One press of Approve or Reject. ``delivery_id``: the service's id of this delivery when it
    has one (Telegram ``update_id``, a Slack interaction's trigger id), used to drop retried
    deliveries; ``at``: epoch seconds when the service says it happened, else None."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identity: ChatIdentity
    request_id: str
    approve: bool
    delivery_id: str | None = None
    at: float | None = None

    @property
    def channel(self) -> str:
        """The channel the click came from."""
        return self.identity.channel


class ClickOutcome(StrEnum):
    """What a click did: ``decided`` (it approved or rejected the request), ``voted`` (its vote
    counted; more are needed), ``refused`` (not an approver, not an allowed chat, the trigger of
    the run, the same person again, the SubjectAccessReview said no, an unknown request), ``late``
    (the request was already decided or expired: the answer says by whom and when), ``duplicate``
    (a retried delivery already handled)."""

    DECIDED = "decided"
    VOTED = "voted"
    REFUSED = "refused"
    LATE = "late"
    DUPLICATE = "duplicate"


class ClickAnswer(BaseModel):
    """The answer to a click: its ``outcome``, ``text`` to show the clicker (one short line), and
    the request as it now stands (None when unknown)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: ClickOutcome
    text: str
    request: ApprovalRequest | None = None


class ClickHandler(Protocol):
    """Turns a click into a decision, a vote or a refusal. Never raises for what the clicker did
    wrong (that is a refusal); raises :class:`aiops.errors.StoreUnavailable` when Redis is down,
    which the channel reports to the clicker as "try again"."""

    async def handle(self, click: Click) -> ClickAnswer:
        """Authorize, vote or decide, audit; the answer to show the clicker."""
        ...


def callback_data(request_id: str, approve: bool) -> str:
    """Telegram ``callback_data`` for a button: ``a:<id>`` or ``r:<id>`` (34 bytes)."""
    return f"{'a' if approve else 'r'}:{request_id}"


def parse_callback_data(data: str | None) -> tuple[str, bool] | None:
    """(request id, approve) from :func:`callback_data`'s text; None for anything else (a forged
    or foreign button, which the channel answers as unknown)."""
    if not data or len(data) != 34 or data[1] != ":" or data[0] not in "ar":
        return None
    request_id = data[2:]
    return (request_id, data[0] == "a") if _REQUEST_ID.fullmatch(request_id) else None
