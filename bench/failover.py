"""Takeover time with the default leader-election timings: SIGKILL or SIGTERM the leader, time the new term.

Two ``aiops run`` processes (tests/support/operator_process.py) campaign for the acting Lease on
the emulated API server of this process (Leases with resourceVersion and 409) with the defaults of
``leader_election`` (10 s lease, 7 s renew deadline, 1 s retry). Each round finds the leader (the
Lease's holder; identities carry the pid), kills it (SIGKILL: no release, the standby waits the
Lease out) or stops it (SIGTERM: the Lease is released after the drain), and measures the time from
the signal to the standby's new term in Redis (``aiops.store.fences``: the moment it may act). The
stopped process is started again before the next round. Goal (issue 12): p99 under 15 s after a
SIGKILL with the defaults. ``BENCH_FAILOVER_KILLS`` (default 12) and ``BENCH_FAILOVER_STOPS``
(default 4) set the rounds.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from aiops.emulator import ClusterEmulator, running_emulator
from aiops.kube.lease import LEASE_API_VERSION
from aiops.settings import LeaderElectionSettings
from aiops.store import Store
from aiops.store.sweep import delete_prefix
from bench.common import percentile, redis_url, report
from tests.support.operator_fixtures import TOKENS
from tests.support.operator_process import OperatorProcess, operator_env
from tests.support.ports import free_port

KILLS = int(os.environ.get("BENCH_FAILOVER_KILLS", "12"))
STOPS = int(os.environ.get("BENCH_FAILOVER_STOPS", "4"))
LEASE = "aiops-leader"
DEFAULTS = LeaderElectionSettings()


def _holder(emulator: ClusterEmulator, processes: list[OperatorProcess]) -> OperatorProcess | None:
    lease = emulator.get_object(LEASE_API_VERSION, "Lease", "default", LEASE) or {}
    identity = str((lease.get("spec") or {}).get("holderIdentity") or "")
    return next((p for p in processes if p.running and f"-{p.pid}-" in identity), None)


async def _leader(
    emulator: ClusterEmulator, processes: list[OperatorProcess], store: Store
) -> tuple[OperatorProcess, int]:
    """The process that holds the Lease and has begun its term, and the term's epoch."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        holder, term = _holder(emulator, processes), await store.fences.current(LEASE)
        if holder is not None and term is not None and f"-{holder.pid}-" in term.holder:
            return holder, term.epoch
        await asyncio.sleep(0.05)
    raise RuntimeError("no process took the Lease within 60 s")


async def _new_term(store: Store, epoch: int) -> None:
    while True:
        term = await store.fences.current(LEASE)
        if term is not None and term.epoch > epoch:
            return
        await asyncio.sleep(0.02)


async def _measure() -> dict[str, object]:
    url = redis_url()
    prefix = f"aiops-bench:{uuid.uuid4()}:"
    store = Store.connect(url, prefix=prefix)
    timings = {
        "AIOPS_LEADER_ELECTION__LEASE_DURATION_SECONDS": str(DEFAULTS.lease_duration_seconds),
        "AIOPS_LEADER_ELECTION__RENEW_DEADLINE_SECONDS": str(DEFAULTS.renew_deadline_seconds),
        "AIOPS_LEADER_ELECTION__RETRY_PERIOD_SECONDS": str(DEFAULTS.retry_period_seconds),
    }
    killed: list[float] = []
    stopped: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with running_emulator() as emulator:
            processes = []
            for name in ("a", "b"):
                port = free_port()
                env = operator_env(
                    kube_server=emulator.url, redis_url=url, redis_prefix=prefix, api_port=port,
                    tokens=TOKENS, extra=timings,
                )  # fmt: skip
                processes.append(OperatorProcess(env, port=port, log_path=Path(tmp) / f"{name}.log"))
            try:
                await asyncio.gather(*(p.start() for p in processes))
                for round_ in range(KILLS + STOPS):
                    leader, epoch = await _leader(emulator, processes, store)
                    began = time.monotonic()
                    if round_ < KILLS:
                        await leader.kill()
                    else:
                        stopping = asyncio.create_task(leader.stop())
                    await _new_term(store, epoch)
                    took = time.monotonic() - began
                    (killed if round_ < KILLS else stopped).append(took)
                    how = "SIGKILL" if round_ < KILLS else "SIGTERM"
                    print(f"  round {round_ + 1}: {how} → new term in {took:.2f} s")
                    if round_ >= KILLS:
                        await stopping
                        leader = OperatorProcess(leader.env, port=leader.port, log_path=leader.log_path)
                        processes = [p for p in processes if p.port != leader.port] + [leader]
                    await leader.start()
            finally:
                for process in processes:
                    await process.stop()
    await delete_prefix(store)
    await store.close()
    return {
        "timings_seconds": {
            "lease_duration": DEFAULTS.lease_duration_seconds,
            "renew_deadline": DEFAULTS.renew_deadline_seconds,
            "retry_period": DEFAULTS.retry_period_seconds,
        },
        "after_sigkill_seconds": _stats(killed),
        "after_sigterm_seconds": _stats(stopped),
    }


def _stats(samples: list[float]) -> dict[str, float | int]:
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "p50": round(percentile(samples, 50), 2),
        "p99": round(percentile(samples, 99), 2),
        "max": round(max(samples), 2),
        "min": round(min(samples), 2),
    }


def run() -> None:
    """Measure and report (bench/results/failover.json)."""
    report(
        "failover", asyncio.run(_measure()), goal="p99 takeover after SIGKILL under 15 s with the defaults"
    )
