"""Start-up checks of ``aiops run``: Redis and the Kubernetes API must answer before anything serves.

Fed by: validated settings (``aiops.config``). Consumed by: ``aiops run``, which hands the opened
store and Kubernetes client to ``aiops.runtime.build``, or prints :class:`StartupFailed` (a few
lines: which dependency, how it was tried, what to set) and exits 1.

Both are tried at once, each until it answers or ``settings.startup_wait_seconds`` have passed
(one try per second, each bounded), so a Redis or an API server that is still starting next to the
pod is waited for, and a wrong URL or kubeconfig fails in seconds instead of crash-looping with a
traceback. Credentials the API server refuses (401/403) fail at once: retrying cannot fix them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiops import config as config_mod
from aiops import errors
from aiops import kube as kube_mod
from aiops.settings import Settings
from aiops.store import Store

#: Longest single try (seconds); the pause between tries is what is left of one second.
ATTEMPT_SECONDS = 5.0

REDIS_ADVICE = "set REDIS_URL (or AIOPS_REDIS_URL) to a Redis this process can reach"
KUBE_ADVICE = (
    "set AIOPS_KUBE__KUBECONFIG (or KUBECONFIG) to a kubeconfig file and AIOPS_KUBE__CONTEXT to one of "
    "its contexts; in a pod, AIOPS_KUBE__IN_CLUSTER=true; or AIOPS_KUBE__SERVER to an API server URL"
)
WAIT_ADVICE = "AIOPS_STARTUP_WAIT_SECONDS to wait longer"


class StartupFailed(errors.AiopsError):
    """Redis or the Kubernetes API did not answer, or refused aiops: nothing was started.

    The message is a few lines: one per failed dependency, each with what was tried and what to set.
    """


@dataclass(frozen=True)
class _Outcome:
    """The last failure of a dependency after ``attempts`` tries (``problem`` None: it answered)."""

    attempts: int
    problem: str | None
    permanent: bool = False


async def connect(settings: Settings) -> tuple[Store, kube_mod.Kube]:
    """Open the store and the Kubernetes client and wait until both answer.

    Raises :class:`StartupFailed` naming every dependency that did not (both clients are closed).
    """
    wait = settings.startup_wait_seconds
    store = Store.connect(settings.redis_url, prefix=settings.redis_prefix)
    kube: kube_mod.Kube | None = None
    failures: list[str] = []
    try:
        kube = await kube_mod.Kube.from_settings(settings.kube)
    except kube_mod.CredentialsError as exc:
        failures.append(_kube_failure("has no usable credentials", tried=exc.tried))
    checks: list[Awaitable[_Outcome]] = [_until_answered(lambda: _redis_attempt(store), wait)]
    if kube is not None:
        checks.append(_until_answered(lambda: _kube_attempt(kube), wait))
    redis_outcome, *kube_outcome = await asyncio.gather(*checks)
    if redis_outcome.problem is not None:
        failures.insert(
            0,
            f"Redis did not answer at {config_mod.masked_url(settings.redis_url)}: {redis_outcome.problem}\n"
            f"  tried: PING, {_tries(redis_outcome.attempts, wait)}\n"
            f"  fix: {REDIS_ADVICE}, or {WAIT_ADVICE}",
        )
    if kube is not None and kube_outcome and kube_outcome[0].problem is not None:
        outcome = kube_outcome[0]
        what = "refused aiops" if outcome.permanent else "did not answer"
        failures.append(
            _kube_failure(
                f"{what} at {kube.server}: {outcome.problem}",
                tried=[
                    f"GET /version and GET /api/v1/pods?limit=1, {_tries(outcome.attempts, wait)}, "
                    f"with {kube_mod.client_source(settings.kube)}"
                ],
                retryable=not outcome.permanent,
            )
        )
    if failures:
        await store.close()
        if kube is not None:
            await kube.close()
        raise StartupFailed("\n".join(failures))
    assert kube is not None
    return store, kube


def _kube_failure(what: str, *, tried: list[str], retryable: bool = False) -> str:
    advice = KUBE_ADVICE + (f"; or {WAIT_ADVICE}" if retryable else "")
    return f"the Kubernetes API {what}\n  tried: {'; '.join(tried)}\n  fix: {advice}"


def _tries(attempts: int, wait: float) -> str:
    return f"{attempts} tr{'y' if attempts == 1 else 'ies'} over {wait:g} s (startup_wait_seconds)"


async def _until_answered(attempt: Callable[[], Awaitable[_Outcome]], wait_seconds: float) -> _Outcome:
    """Call ``attempt`` once a second until it succeeds, fails permanently or ``wait_seconds`` passed."""
    deadline = time.monotonic() + wait_seconds
    attempts = 0
    while True:
        started = time.monotonic()
        attempts += 1
        outcome = await attempt()
        if outcome.problem is None or outcome.permanent or time.monotonic() >= deadline:
            return _Outcome(attempts, outcome.problem, outcome.permanent)
        await asyncio.sleep(max(0.0, min(1.0 - (time.monotonic() - started), deadline - time.monotonic())))


async def _redis_attempt(store: Store) -> _Outcome:
    problem = await store.ping_error(timeout_seconds=ATTEMPT_SECONDS)
    return _Outcome(1, problem)


async def _kube_attempt(kube: kube_mod.Kube) -> _Outcome:
    """``GET /version`` (the server answers) then one pod (credentials and RBAC: the watch needs it)."""
    try:
        async with asyncio.timeout(ATTEMPT_SECONDS):
            await kube.request("GET", "/version")
            await kube.request("GET", "/api/v1/pods", query={"limit": 1})
    except TimeoutError:
        return _Outcome(1, f"no answer within {ATTEMPT_SECONDS:g} s")
    except kube_mod.ApiError as exc:
        if exc.status in (401, 403):
            return _Outcome(1, _refused(exc), permanent=True)
        return _Outcome(1, str(exc))
    return _Outcome(1, None)


def _refused(exc: kube_mod.ApiError) -> str:
    if exc.status == 401:
        return f"{exc} (the credentials are not accepted: check the kubeconfig's user or the token)"
    return f"{exc} (RBAC: the identity may not list pods cluster-wide; apply the chart's ClusterRole)"
