"""The whole runtime under test: real kopf operator, real API (uvicorn), real Redis, emulated Kubernetes.

``harness`` builds :class:`aiops.runtime.Services` exactly as ``aiops run`` does, pointed at the
``emulator`` fixture and the isolated ``store`` fixture, and can stop and restart it on the same
Redis state (a simulated operator restart). Approvers: ``alice`` and ``bob`` with their tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from aiops.emulator import ClusterEmulator
from aiops.emulator.emulator import Call
from aiops.settings import (
    ActionSettings,
    AlertmanagerSettings,
    ApiSettings,
    ApprovalSettings,
    KubeSettings,
    SafetySettings,
    Settings,
)
from aiops.store import Store

if TYPE_CHECKING:
    from aiops import runtime

TOKENS = {"alice": "token-alice-0123456789", "bob": "token-bob-0123456789"}
#: The bearer token Alertmanager sends to the webhook (``http_config.authorization``).
ALERTMANAGER_TOKEN = "alertmanager-token-0123456789"


async def eventually(
    predicate: Callable[[], Awaitable[bool]], *, timeout_seconds: float = 15.0, what: str = "condition"
) -> None:
    """Await ``predicate`` until it is true; fail the test with ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")


class Harness:
    """Starts/stops/restarts the runtime; ``api(identity)`` is an HTTP client with that identity."""

    def __init__(self, emulator: ClusterEmulator, store: Store, settings: Settings) -> None:
        self.emulator = emulator
        self.store = store
        self.settings = settings
        self.services: runtime.Services | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """The API's URL; the port is the one uvicorn bound (settings ask for port 0)."""
        assert self.services is not None and self.services.api_port, "start() the harness first"
        return f"http://127.0.0.1:{self.services.api_port}"

    async def start(self) -> runtime.Services:
        """Build the services and run operator + API until :meth:`stop`."""
        from aiops import runtime

        self.services = await runtime.build(self.settings, store=self.store)
        self._stop = asyncio.Event()
        ready, started = asyncio.Event(), asyncio.Event()
        self._task = asyncio.create_task(
            runtime.serve(self.services, stop=self._stop, operator_ready=ready, api_started=started)
        )
        await asyncio.wait_for(asyncio.gather(ready.wait(), started.wait()), timeout=20)
        return self.services

    async def stop(self) -> None:
        """Stop operator and API, wait for background runs, close the Kubernetes client."""
        if self._stop is not None and self._task is not None and self.services is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, timeout=30)
            await self.services.executor.wait_idle(timeout_seconds=10)
            if self.services.chat is not None:
                await self.services.chat.close()
            await self.services.kube.close()
        self._stop = self._task = None

    async def shutdown(self) -> None:
        """Stop operator and API, then close every service the way ``aiops run`` does
        (``Services.close``: background work drained or cancelled, then the clients closed)."""
        if self._stop is not None and self._task is not None and self.services is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, timeout=30)
            await self.services.close()
        self._stop = self._task = None

    @property
    def serving(self) -> bool:
        """True while ``runtime.serve`` runs (started and not ended by itself or by :meth:`stop`)."""
        return self._task is not None and not self._task.done()

    async def restart(self) -> runtime.Services:
        """Stop, then start a fresh runtime on the same Redis state (nothing kept in memory)."""
        await self.stop()
        return await self.start()

    def api(self, identity: str | None = "alice") -> httpx.AsyncClient:
        """An HTTP client for the API, authenticated as ``identity`` (None: no token)."""
        headers = {"Authorization": f"Bearer {TOKENS[identity]}"} if identity else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)

    async def get(self, path: str, identity: str = "alice") -> Any:
        """GET a JSON document from the API, asserting 200."""
        async with self.api(identity) as client:
            response = await client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    async def pending(self) -> list[dict[str, Any]]:
        """Pending approval requests."""
        result: list[dict[str, Any]] = await self.get("/api/approvals?state=pending")
        return result

    async def approve(self, request_id: str, identity: str = "alice", reason: str = "go") -> dict[str, Any]:
        """Approve through the API as ``identity``, asserting 200; the answer (``request``, ``run``)."""
        async with self.api(identity) as api:
            response = await api.post(f"/api/approvals/{request_id}/approve", json={"reason": reason})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def finished_run(self, run_id: str, timeout_seconds: float = 15.0) -> dict[str, Any]:
        """The run once it reached a terminal state (verification runs after the approval answer)."""
        seen: dict[str, Any] = {}

        async def ended() -> bool:
            seen.update(await self.get(f"/api/runs/{run_id}"))
            return seen["state"] not in ("running", "waiting_approval")

        await eventually(ended, timeout_seconds=timeout_seconds, what=f"run {run_id} to end")
        return seen


def make_settings(emulator: ClusterEmulator, **overrides: Any) -> Settings:
    """Settings for a harness: emulator server, a free API port, short timers for tests."""
    approvals = overrides.pop("approvals", ApprovalSettings(sweep_interval_seconds=0.2))
    alertmanager = overrides.pop("alertmanager", AlertmanagerSettings(token=ALERTMANAGER_TOKEN))
    # Verification polls fast and gives up soon: the emulator has no controllers, so a test that
    # wants "verified" plays the controller itself (see tests/safety/test_verification_flow.py).
    safety = overrides.pop(
        "safety",
        SafetySettings(verify_poll_seconds=0.05, verify_settle_seconds=0.0, verify_timeout_seconds=1.0),
    )
    return Settings(
        kube=KubeSettings(server=emulator.url),
        api=ApiSettings(host="127.0.0.1", port=0, tokens=TOKENS),
        approvals=approvals,
        alertmanager=alertmanager,
        actions=ActionSettings(eviction_retry_seconds=0.05, eviction_timeout_seconds=1.0),
        safety=safety,
        **overrides,
    )


@pytest.fixture
async def harness(emulator: ClusterEmulator, store: Store) -> AsyncIterator[Harness]:
    """A not-yet-started harness with default test settings; stopped after the test."""
    h = Harness(emulator, store, make_settings(emulator))
    try:
        yield h
    finally:
        await h.stop()


#: The HTTP methods that write.
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


#: Where the leader-election Leases live (``aiops.kube.lease``).
LEASES = "/apis/coordination.k8s.io/"


def writes(
    emulator: ClusterEmulator,
    method: str | None = None,
    path_part: str = "",
    *,
    since: int = 0,
    dry_run: bool = False,
) -> list[Call]:
    """The requests that could change the emulated cluster's workloads: write methods (POST, PUT,
    PATCH, DELETE) not sent with ``dryRun=All`` (plans are previewed with dry-run writes before
    approval), from call number ``since``, optionally of one ``method`` and with ``path_part`` in
    the path. ``dry_run=True``: only the dry-run ones. The operator's own Lease (leader election,
    ``coordination.k8s.io``) is left out unless ``path_part`` names it."""
    return [
        call
        for call in emulator.calls[since:]
        if call.method in WRITE_METHODS
        and (method is None or call.method == method)
        and path_part in call.path
        and call.dry_run == dry_run
        and (LEASES not in call.path or LEASES in path_part)
    ]


def step_of(run: dict[str, Any], action: str) -> dict[str, Any]:
    """The run's (one) step record for ``action``."""
    steps: list[dict[str, Any]] = [s for s in run["steps"] if s["action"] == action]
    assert len(steps) == 1, steps
    return steps[0]
