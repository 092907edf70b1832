"""The one wall clock: what "now" is for everything aiops stamps, schedules or expires.

Fed by: ``aiops.runtime``, which builds one :data:`Clock` (:func:`utcnow` in production) and hands
the same one to the pipeline, the deduplicator, the approval gate, the executor and the
blast-radius guards, so an incident's ``first_seen``, an approval's ``expires_at`` and a guard's
budget window are read off one time source. Tests hand a fixed or stepping clock to the component
they drive. Consumes: nothing but the standard library.

Intervals (timeouts, poll periods, backoff) are not wall time and keep using ``time.monotonic``
where they are measured; only instants that are stored or compared with stored instants come
from here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: A wall clock: returns the current instant as a timezone-aware UTC ``datetime``.
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC (``datetime.now(UTC)``): the production clock."""
    return datetime.now(UTC)


def epoch_seconds(clock: Clock) -> Callable[[], float]:
    """The same clock read as Unix epoch seconds (float), for scores in Redis sorted sets.

    ``epoch_seconds(clock)()`` equals ``clock().timestamp()``; used by the guards' budget windows.
    """
    return lambda: clock().timestamp()


#: :func:`utcnow` read as epoch seconds: the default of components that keep float timestamps
#: (the guards' budget windows, the chat outbox's due times).
EPOCH_SECONDS: Callable[[], float] = epoch_seconds(utcnow)
