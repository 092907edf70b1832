"""Shared helpers for the benchmarks: percentiles, Redis store, result printing."""

from __future__ import annotations

import json
import os
import secrets
import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from aiops.store import Store

RESULTS = Path(__file__).parent / "results"
console = Console()


def redis_url() -> str:
    """``REDIS_URL`` or the default local Redis."""
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def bench_store() -> Store:
    """A Store on the real Redis under a throwaway prefix; raises if Redis does not answer."""
    store = Store.connect(redis_url(), prefix=f"aiops-bench:{secrets.token_hex(4)}:")
    if not await store.ping():
        raise SystemExit(f"no Redis answers at {redis_url()} (make bench starts one)")
    return store


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation, as numpy's default."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(samples_seconds: list[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds."""
    ms = [s * 1000 for s in samples_seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def report(name: str, result: dict[str, Any], goal: str) -> None:
    """Print one benchmark's numbers and save them under bench/results/NAME.json."""
    table = Table(title=f"{name}  (goal: {goal})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"goal": goal, **result}, indent=2) + "\n")
