"""Work that only one replica may do: run it while this process holds a Lease.

Fed by: the runtime's chat wiring (``aiops.runtime.chat``: Telegram long polling, of which the Bot
API allows one per bot token, https://core.telegram.org/bots/api#getupdates: "409 Conflict:
terminated by other getUpdates request"). Consumed by: :class:`aiops.kube.lease.LeaseElector`
(the Lease) and the work itself. Issue 12 extends the same mechanism to runs, steps,
verification and the sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from aiops.kube.lease import LeaseElector

__all__ = ["DEFAULT_LEASE_NAMESPACE", "candidate_identity", "while_leading"]

log = logging.getLogger(__name__)

#: Where Leases live when aiops runs outside a pod and no namespace is configured.
DEFAULT_LEASE_NAMESPACE = "default"

Work = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def candidate_identity() -> str:
    """This process as a Lease candidate: the pod name (``HOSTNAME`` in a pod, else the host
    name), the process id and a random suffix, so two processes never share an identity."""
    host = os.environ.get("HOSTNAME") or socket.gethostname()
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


async def while_leading(elector: LeaseElector, work: Work, stop: asyncio.Event) -> None:
    """Campaign for ``elector``'s Lease until ``stop``; run ``work(its_stop)`` each time this
    process wins it, and stop that work (its event set, then awaited) as soon as leadership is
    lost or ``stop`` is set. The Lease is released on stop. Never raises but CancelledError;
    ``work`` failing is logged and it is started again at the next win."""
    leading = asyncio.Event()
    lost = asyncio.Event()

    def changed(now_leading: bool) -> None:
        if now_leading:
            lost.clear()
            leading.set()
        else:
            leading.clear()
            lost.set()

    campaign = asyncio.create_task(elector.run(stop, on_change=changed), name=f"lease:{elector.name}")
    try:
        while not stop.is_set():
            waiters = {asyncio.ensure_future(leading.wait()), asyncio.ensure_future(stop.wait())}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if stop.is_set():
                break
            term = asyncio.Event()
            running = asyncio.create_task(work(term))
            signals = {asyncio.ensure_future(lost.wait()), asyncio.ensure_future(stop.wait())}
            await asyncio.wait({*signals, running}, return_when=asyncio.FIRST_COMPLETED)
            term.set()
            for waiter in signals:
                waiter.cancel()
            try:
                await running
            except Exception:  # the work's own failure: logged; it starts again at the next win
                log.exception("%s: the leader's work failed", elector.name)
            if not running.cancelled() and not stop.is_set() and leading.is_set():
                await asyncio.sleep(1.0)  # the work ended by itself while leading: do not spin
    finally:
        if not stop.is_set():
            campaign.cancel()  # this coroutine was cancelled: the campaign goes with it
        with contextlib.suppress(asyncio.CancelledError):
            await campaign
