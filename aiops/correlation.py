"""Correlation ids: which HTTP request and which incident the current work is for.

Fed by: the API's request-id middleware (``request_id``: the caller's ``X-Request-ID`` or a new
one), the pipeline once an event or alert lands in an incident, and the executor's entry points
(``incident_id``). Both are :mod:`contextvars`, so every task started while one is set (a run, an
enrichment, a verification) carries it. Consumed by: :class:`LogFilter` (every log line), the
audit log and the executor (audit entries and step records), and the API's problem bodies.

One grep of an incident id over the logs, the audit log and the run records then follows the
incident from the watch event or alert that opened it to the approval and the write.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import uuid
from collections.abc import Iterator

__all__ = ["LogFilter", "incident", "incident_id", "new_request_id", "request_id", "sane_request_id"]

#: The HTTP request being served (``X-Request-ID``), or None outside a request.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("aiops_request_id", default=None)
#: The incident being worked on, or None.
incident_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("aiops_incident_id", default=None)

#: An incoming ``X-Request-ID`` is kept when it is 1-128 of these characters (UUIDs, hex ids,
#: ``req-42``, ``a.b:c``); anything else is replaced by a new id, so a header never injects text
#: into log lines or responses.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it is an acceptable request id (see ``_SANE``), else None."""
    return value if value is not None and _SANE.fullmatch(value) else None


def new_request_id() -> str:
    """A fresh request id: a random UUID (RFC 9562 version 4), 36 characters."""
    return str(uuid.uuid4())


@contextlib.contextmanager
def incident(value: str | None) -> Iterator[None]:
    """Set :data:`incident_id` to ``value`` for the ``with`` block (None leaves it as it is)."""
    if value is None:
        yield
        return
    token = incident_id.set(value)
    try:
        yield
    finally:
        incident_id.reset(token)


class LogFilter(logging.Filter):
    """Adds ``request_id`` and ``incident_id`` (None when unset) to every record, and
    ``correlation``: `` [incident=… request=…]`` with what is set, or ``""`` (for console formats).

    Values given with ``extra=`` win. Attach it to a handler, so records from every logger
    (kopf, uvicorn, aiops) get the fields. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        incident = getattr(record, "incident_id", None) or incident_id.get()
        request = getattr(record, "request_id", None) or request_id.get()
        record.incident_id, record.request_id = incident, request
        parts = [f"{name}={value}" for name, value in (("incident", incident), ("request", request)) if value]
        record.correlation = f" [{' '.join(parts)}]" if parts else ""
        return True
