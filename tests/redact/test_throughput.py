"""Redaction throughput on 1,000,000 realistic log lines, printed (lines/s), not asserted as timing.

The mix is mostly ordinary lines (controller logs, access logs, URLs, digests, UIDs) with about 2% that
carry a secret, the shape the cheap prefilter is built for. Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import random
import time

import pytest

from aiops.enrichment.redact import Redactor

LINES = [
    "2024-05-01T10:42:07.118Z INFO  [http-nio-8080-exec-7] c.e.OrderController : order 81723 created in 23ms",
    "2024-05-01T10:42:07.120Z WARN  c.e.Client : retrying GET https://inventory.svc.cluster.local:8443/v1/items/991",
    'I0501 10:42:07.121331 1 controller.go:116] "Observed a change" pod="default/web-6d4cf56db6-x7k2p" '
    'uid="8e1c0f6a-1234-4abc-9def-0123456789ab"',
    '{"level":"info","ts":1714560000.1,"msg":"request done","request_id":"4f1c2a9e7b","status":200}',
    '10.0.0.12 - - [01/May/2024:10:42:07 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
    'Pulled image "registry.example.com/web@sha256:'
    '0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"',
    "2024-05-01 10:42:07 ERROR dial tcp 10.96.0.15:5432: connect: connection refused",
    "2024-05-01 10:42:08 INFO token refreshed for service account default/builder, expires in 3600s",
    "2024-05-01 10:42:09 DEBUG login user=alice password=hunter2 from 10.0.0.7",
    "2024-05-01 10:42:09 DEBUG Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXMifQ.c2lnbmF0dXJl",
]
WEIGHTS = [20, 15, 20, 20, 15, 5, 3, 1, 0.5, 0.5]
COUNT = 1_000_000


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return random.Random(7).choices(LINES, WEIGHTS, k=COUNT)


def test_redact_lines_throughput(lines: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    redactor = Redactor()
    start = time.perf_counter()
    out = redactor.redact_lines(lines)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nredact_lines: {COUNT:,} lines in {elapsed:.2f} s = {COUNT / elapsed:,.0f} lines/s")
    assert len(out) == COUNT
    assert sum("[REDACTED:" in line for line in out) > COUNT // 200
    assert not any("hunter2" in line for line in out)


def test_redact_per_line_throughput(lines: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    redactor = Redactor()
    sample = lines[:200_000]
    start = time.perf_counter()
    out = [redactor.redact(line) for line in sample]
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nredact (one call per line): {len(sample) / elapsed:,.0f} lines/s")
    assert out == redactor.redact_lines(sample)
