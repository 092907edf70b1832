"""What the chat settings will do, in a line, and what in them will not work as expected.

Fed by: :class:`aiops.settings.Settings` (its ``slack``, ``telegram`` and ``approvals``
sections). Consumed by: ``aiops config check`` and ``aiops run``'s start-up log, through
:func:`aiops.config.describe` and :func:`aiops.config.warnings`. Pure; secrets are never shown.
"""

from __future__ import annotations

from aiops.settings import Settings

__all__ = ["chat_line", "chat_warnings"]


def chat_line(settings: Settings) -> str:
    """``chat: slack (socket mode, channel C0123), telegram (polling, 2 chats); approvers: 2
    medium, 1 high; votes: high 1, drain 2`` or ``chat: none (approvals through the API and CLI)``."""
    parts: list[str] = []
    slack, telegram, approvals = settings.slack, settings.telegram, settings.approvals
    if slack.enabled:
        parts.append(f"slack ({slack.mode} mode, channel {slack.channel})")
    if telegram.enabled:
        chats = len(telegram.chat_ids)
        parts.append(f"telegram ({telegram.mode}, {chats} chat{'s' if chats != 1 else ''})")
    if not parts:
        return "chat: none (approvals through the API and the CLI)"
    votes = f"medium {approvals.votes_medium}, high {approvals.votes_high}" + "".join(
        f", {action} {n}" for action, n in sorted(approvals.votes_by_action.items())
    )
    return (
        f"chat: {', '.join(parts)}; approvers: {len(approvals.approvers_medium)} medium, "
        f"{len(approvals.approvers_high)} high; votes: {votes}"
        + ("; SubjectAccessReview on" if approvals.subject_access_review else "")
    )


def _chat_identities(settings: Settings, names: list[str]) -> list[str]:
    """The chat identities ``names`` stand for: listed directly, or through a person."""
    people = settings.approvals.people
    found = [n for n in names if ":" in n]
    for name in names:
        found += [i for i in people.get(name, []) if i.startswith(("slack", "telegram"))]
    return found


def chat_warnings(settings: Settings) -> list[str]:
    """What starts but will not work in chat, each with the setting to change (never an error)."""
    slack, telegram, approvals = settings.slack, settings.telegram, settings.approvals
    if not (slack.enabled or telegram.enabled):
        return []
    found: list[str] = []
    for risk, names in (("medium", approvals.approvers_medium), ("high", approvals.approvers_high)):
        if not _chat_identities(settings, names):
            found.append(
                f"chat is on but no chat identity may approve {risk}-risk steps: its buttons will "
                f"refuse everyone; list slack:<team>/<user>, slack-group:<group> or telegram:<user> "
                f"in approvals.approvers_{risk}, or a person under approvals.people"
            )
    if approvals.subject_access_review and not any(
        i.startswith("kubernetes") for ids in approvals.people.values() for i in ids
    ):
        found.append(
            "approvals.subject_access_review is on but no person has a kubernetes:<user> identity: "
            "every chat approval will be refused; add one under approvals.people"
        )
    return found
