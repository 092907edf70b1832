"""``python -m bench`` (``make bench``): every benchmark in turn; results also in bench/results/*.json.

Select some with ``python -m bench NAME...``; names: pipeline_throughput, watch_latency,
operator_rss, webhook_ingest, log_analyzer, guard_overhead, chat_latency, failover.
"""

from __future__ import annotations

import sys

from bench import (
    chat_latency,
    failover,
    guard_overhead,
    log_analyzer,
    operator_rss,
    pipeline_throughput,
    watch_latency,
    webhook_ingest,
)

BENCHMARKS = {
    "pipeline_throughput": pipeline_throughput.run,
    "watch_latency": watch_latency.run,
    "operator_rss": operator_rss.run,
    "webhook_ingest": webhook_ingest.run,
    "log_analyzer": log_analyzer.run,
    "guard_overhead": guard_overhead.run,
    "chat_latency": chat_latency.run,
    "failover": failover.run,
}

names = sys.argv[1:] or list(BENCHMARKS)
unknown = [n for n in names if n not in BENCHMARKS]
if unknown:
    raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
for name in names:
    BENCHMARKS[name]()
