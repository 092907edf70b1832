"""The record of Kubernetes API calls: what was sent and a short summary of each answer.

Fed by: :meth:`aiops.kube.Kube.request`, which appends one :class:`ApiCall` per call to every
recorder open in the calling context (:meth:`CallRecorders.recording`). Consumed by: the
executor and actions (``Kube.recording`` around a step: the exact calls a step made go into its
run record, its approval request's plan and the audit log).

Recorders live in a ``contextvars.ContextVar``: tasks started inside a recording context are
recorded too, other concurrent callers are not (Python docs, ``contextvars``).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ApiCall:
    """One Kubernetes API call an action made: ``PATCH /apis/apps/v1/namespaces/x/deployments/y`` → 200.

    ``path`` includes the query string; ``status`` is 0 when no HTTP answer came. ``body`` is the
    request body (patches, evictions) or ``None``; ``response`` is a short JSON summary of the answer
    (e.g. ``{"code": 429, "reason": "TooManyRequests", "message": ...}``).
    """

    method: str
    path: str
    status: int
    body: Any = None
    response: Any = None


def summarize(payload: Any, status: int = 200) -> dict[str, Any]:
    """A short JSON summary of an API answer: code, kind, name, resourceVersion; a Status's reason,
    message and causes; a list's item count; a text's size in bytes."""
    summary: dict[str, Any] = {"code": status}
    if isinstance(payload, str):
        return summary | {"bytes": len(payload.encode())}
    if not isinstance(payload, dict):
        return summary
    if payload.get("kind") == "Status":
        summary |= {k: payload[k] for k in ("status", "reason", "message") if k in payload}
        details = payload.get("details") or {}
        if details.get("causes"):
            summary["causes"] = [c.get("message") for c in details["causes"]]
        return summary
    if isinstance(payload.get("items"), list):
        return summary | {"kind": payload.get("kind"), "items": len(payload["items"])}
    meta = payload.get("metadata") or {}
    summary |= {"kind": payload.get("kind"), "name": meta.get("name")}
    return summary | ({"resourceVersion": meta["resourceVersion"]} if "resourceVersion" in meta else {})


class CallRecorders:
    """The recorders open in the current context; one instance per :class:`aiops.kube.Kube`."""

    def __init__(self) -> None:
        self._open: contextvars.ContextVar[tuple[list[ApiCall], ...]] = contextvars.ContextVar(
            f"aiops-kube-recorders-{id(self)}", default=()
        )

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[ApiCall]]:
        """Collect the :class:`ApiCall` of every call made in this context (tasks started inside too)."""
        calls: list[ApiCall] = []
        token = self._open.set((*self._open.get(), calls))
        try:
            yield calls
        finally:
            self._open.reset(token)

    def record(self, call: ApiCall) -> None:
        """Append ``call`` to every recorder open in the current context (none: dropped)."""
        for calls in self._open.get():
            calls.append(call)
