"""What a failed Slack Web API call means for a delivery: retry later, or never.

Fed by: :class:`aiops.chat.slack.channel.SlackChannel`, with the exception a slack_sdk
``AsyncWebClient`` call raised. Consumed by: the delivery worker (:mod:`aiops.chat.delivery`),
through :class:`aiops.chat.notifier.DeliveryRetry` / :class:`~aiops.chat.notifier.DeliveryFailed`.

Slack answers a rate-limited call with HTTP 429 and ``Retry-After`` in seconds
(https://api.slack.com/apis/rate-limits); ``ratelimited``, ``internal_error``, ``fatal_error``,
``service_unavailable`` and ``request_timeout``, HTTP 5xx, connection errors and timeouts are
temporary (https://api.slack.com/methods/chat.postMessage#errors). Every other error code
(``invalid_auth``, ``channel_not_found``, ``not_in_channel``, ``msg_too_long``,
``invalid_blocks``, ``message_not_found``, ...) can never succeed for this message.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError

from aiops.chat.notifier import DeliveryFailed, DeliveryRetry

__all__ = ["TEMPORARY_ERRORS", "delivery_error", "error_code"]

#: Slack error codes worth retrying (https://api.slack.com/methods/chat.postMessage#errors).
TEMPORARY_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def error_code(error: SlackApiError) -> str:
    """The ``error`` field of Slack's answer (``invalid_auth``), or ``http_<status>`` when the
    body carried none (a 5xx page from a proxy)."""
    data = error.response.data
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"http_{error.response.status_code}"


def _retry_after(error: SlackApiError) -> float:
    value = (error.response.headers or {}).get("Retry-After") or (error.response.headers or {}).get(
        "retry-after"
    )
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def delivery_error(method: str, error: BaseException) -> DeliveryRetry | DeliveryFailed:
    """The delivery error for ``error`` raised by Web API ``method`` (``chat.postMessage``):
    :class:`DeliveryRetry` (with ``Retry-After`` seconds for a 429) or :class:`DeliveryFailed`.
    The message names the method and Slack's error code, never a token."""
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        code = error_code(error)
        text = f"slack {method}: {code} (HTTP {status})"
        if status == 429 or code in TEMPORARY_ERRORS:
            return DeliveryRetry(text, retry_after_seconds=_retry_after(error))
        if status >= 500:
            return DeliveryRetry(text)
        return DeliveryFailed(text)
    if isinstance(error, aiohttp.ClientError | TimeoutError | ConnectionError | OSError):
        return DeliveryRetry(f"slack {method}: {type(error).__name__}: {error}")
    return DeliveryFailed(f"slack {method}: {type(error).__name__}: {error}")
