"""Log analyzer: pattern-scan throughput, Drain grouping accuracy on Loghub, template-mining throughput.

(a) Pattern scan (the whole failure library, :mod:`aiops.enrichment.logs.scan`) over a synthetic
    1,000,000-line log (``BENCH_LOG_LINES``), one process, one core, hyperscan and ``re`` side by
    side; plus the full ``analyze`` (scan + trace grouping + ranking, no templates).
    Goal (issue 5): ≥ 1,000,000 lines/s with hyperscan.
(b) Grouping accuracy (GA, Zhu et al., "Tools and Benchmarks for Automated Log Parsing",
    ICSE-SEIP 2019) per system on the 8 Loghub 2k samples in ../shared/data/loghub, against the
    corrected ground truth (``*_structured_corrected.csv``), each line's Content field parsed with
    the system's ``log_format`` from formats.json as the Loghub benchmark does. Our one
    configuration side by side with drain3's defaults, same run. Goal: average GA ≥ 0.90, no
    per-dataset tuning (published tuned Drain on these 8: 0.902; Loghub-2.0 2k column: see
    published_accuracy.json).
(c) Template mining throughput with masking (``TemplateMiner.add``) on the synthetic log's first
    200,000 lines and on the 16,000 raw Loghub lines. Goal: ≥ 25,000 lines/s on one core.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from aiops.enrichment.logs import analyze, patterns, scan, templates
from bench.common import report

LINES = int(os.environ.get("BENCH_LOG_LINES", "1000000"))
MINING_LINES = 200_000
LOGHUB = Path(
    os.environ.get("LOGHUB_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub")
)

_NORMAL = (
    "{ts} INFO  http request method=GET path=/api/v1/items/{n} status=200 duration={ms}ms req={hex}",
    "{ts} INFO  cache hit key=user:{n} ttl=300s",
    "{ts} DEBUG db query table=orders rows={n} took {ms}ms",
    "{ts} INFO  kafka consumer committed offset {n} partition 3 topic orders",
    "{ts} WARN  slow request path=/api/v1/search q=term{n} duration={ms}ms",
    "{ts} INFO  worker-{w} processed job {hex} in {ms}ms",
)
_FAILING = (
    "{ts} ERROR dial tcp 10.96.{w}.7:5432: connect: connection refused",
    '{ts} ERROR Get "https://auth.internal/keys": x509: certificate has expired or is not yet valid',
    "{ts} ERROR lookup redis-{w}.cache.svc.cluster.local on 10.96.0.10:53: no such host",
    "{ts} ERROR context deadline exceeded while calling payments",
    "{ts} ERROR open /data/segment-{n}.log: too many open files",
    "java.lang.OutOfMemoryError: Java heap space",
    "\tat com.example.Worker.run(Worker.java:{w})",
)


def synthetic_log(n: int, *, seed: int = 5, failing_share: float = 0.02) -> list[str]:
    """``n`` lines like a busy service's log; ``failing_share`` of them match the library."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        shapes = _FAILING if rng.random() < failing_share else _NORMAL
        lines.append(
            rng.choice(shapes).format(
                ts=f"2026-01-01T10:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z",
                n=rng.randrange(1_000_000),
                ms=rng.randrange(1, 900),
                hex=f"{rng.getrandbits(64):016x}",
                w=rng.randrange(1, 64),
            )
        )
    return lines


def _rate(count: int, fn: Any) -> tuple[float, float, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return count / (time.perf_counter() - start), time.process_time() - cpu, out


def scan_throughput(lines: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"scan.lines": len(lines), "scan.patterns": len(patterns.PATTERNS)}
    hits: dict[str, int] = {}
    for engine in (e for e in scan.available_engines() if e != "re-each"):
        scanner = scan.scanner(engine=engine)
        rate, cpu, found = _rate(len(lines), lambda s=scanner: sum(1 for _ in s.scan(lines)))
        hits[engine] = found
        result[f"scan.{engine}.lines_per_second"] = round(rate)
        result[f"scan.{engine}.cpu_seconds"] = round(cpu, 2)
        result[f"scan.{engine}.matching_lines"] = found
    result["scan.engines_agree"] = len(set(hits.values())) == 1
    scanner = scan.scanner()
    rate, _, analysis = _rate(
        len(lines), lambda: analyze.analyze(lines, scanner=scanner, mine_templates=False)
    )
    result[f"analyze_no_templates.{scanner.engine}.lines_per_second"] = round(rate)
    result["analyze_no_templates.findings"] = len(analysis.findings)
    return result


def _loghub_system(system: str, spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    regex = templates.log_format_regex(spec["log_format"])
    contents = []
    for line in (LOGHUB / spec["log_file"]).read_text(encoding="utf-8", errors="replace").splitlines():
        if match := regex.match(line.strip()):
            contents.append(match.group("Content"))
    with (LOGHUB / system / f"{system}_2k.log_structured_corrected.csv").open(newline="") as fh:
        truth = [row["EventId"] for row in csv.DictReader(fh)]
    if len(contents) != len(truth):
        raise SystemExit(f"{system}: {len(contents)} parsed lines for {len(truth)} ground-truth rows")
    return contents, truth


def grouping(systems: dict[str, tuple[list[str], list[str]]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    configs = {"ours": templates.DEFAULT_CONFIG, "drain3_defaults": templates.DRAIN3_DEFAULTS}
    for name, config in configs.items():
        scores = []
        for system, (contents, truth) in systems.items():
            miner = templates.TemplateMiner(config)
            ga = templates.grouping_accuracy([tid for tid, _ in miner.assign(contents)], truth)
            scores.append(ga)
            result[f"ga.{name}.{system}"] = round(ga, 3)
            result[f"templates.{name}.{system}"] = len(miner.templates())
        result[f"ga.{name}.average"] = round(sum(scores) / len(scores), 3)
    return result


def mining_throughput(lines: list[str], raw_loghub: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, data in (("synthetic", lines[:MINING_LINES]), ("loghub_raw", raw_loghub)):
        miner = templates.TemplateMiner()
        rate, _, _ = _rate(len(data), lambda m=miner, d=data: [m.add(line) for line in d])
        result[f"mining.{name}.lines"] = len(data)
        result[f"mining.{name}.lines_per_second"] = round(rate)
        result[f"mining.{name}.templates"] = len(miner.templates())
    return result


def main() -> dict[str, Any]:
    lines = synthetic_log(LINES)
    spec = json.loads((LOGHUB / "formats.json").read_text())
    systems = {name: _loghub_system(name, s) for name, s in spec.items() if not name.startswith("_")}
    raw = [
        line
        for s in spec.values()
        if isinstance(s, dict) and "log_file" in s
        for line in (LOGHUB / s["log_file"]).read_text(encoding="utf-8", errors="replace").splitlines()
    ]
    return {**scan_throughput(lines), **grouping(systems), **mining_throughput(lines, raw)}


def run() -> None:
    """Run and print the benchmark."""
    report(
        "log_analyzer",
        main(),
        "scan ≥ 1,000,000 lines/s (hyperscan); average GA ≥ 0.90; mining ≥ 25,000 lines/s; one core",
    )


if __name__ == "__main__":
    run()
