"""Multi-line stack traces (Python, Java, Go panic with goroutine dump, Node) become one finding each.

Also: the exception line before (Java, Node) or after (Python) the frames is part of the trace's
sample, causes inside a trace (OOM, PostgreSQL, SIGSEGV) are counted once per trace, and two
traces far apart count twice.
"""

from __future__ import annotations

from aiops.enrichment.logs import analyze
from aiops.enrichment.logs.patterns import Category
from tests.logs.excerpts import GO_PANIC, JAVA_OOM, NODE_TRACE, PYTHON_TO_POSTGRES


def by_category(lines: list[str]) -> dict[Category, analyze.Finding]:
    return {f.category: f for f in analyze.analyze(lines, mine_templates=False).findings}


def test_java_oom_with_its_stack_is_one_trace_and_one_oom() -> None:
    found = by_category(JAVA_OOM)
    trace = found[Category.JAVA_STACK_TRACE]
    assert (trace.count, trace.first_line, trace.last_line) == (1, 2, 9)
    assert trace.samples[0].startswith(
        'Exception in thread "http-nio-8080-exec-7" java.lang.OutOfMemoryError'
    )
    assert found[Category.OOM_JAVA].count == 1


def test_go_panic_with_goroutine_dump_is_one_finding() -> None:
    found = by_category(GO_PANIC)
    panic = found[Category.GO_PANIC]
    assert (panic.count, panic.first_line, panic.last_line) == (1, 2, 17)
    assert (
        panic.samples[0].splitlines()[0]
        == "panic: runtime error: invalid memory address or nil pointer dereference"
    )
    assert found[Category.SEGFAULT].count == 1


def test_python_traceback_to_postgres_is_one_trace_ending_in_the_exception_line() -> None:
    found = by_category(PYTHON_TO_POSTGRES)
    trace = found[Category.PYTHON_TRACEBACK]
    assert (trace.count, trace.first_line, trace.last_line) == (1, 3, 8)
    assert trace.samples[0].splitlines()[-1].startswith("psycopg.OperationalError: connection failed")
    postgres = found[Category.POSTGRES]
    assert postgres.count == 1  # three lines mention psycopg; one trace
    assert postgres.samples == [PYTHON_TO_POSTGRES[7]]  # the exception line, not a frame
    assert Category.AUTH in found  # "password authentication failed"


def test_node_error_stack_starts_at_the_error_line() -> None:
    trace = by_category(NODE_TRACE)[Category.NODE_STACK_TRACE]
    assert (trace.count, trace.first_line, trace.last_line) == (1, 2, 5)
    assert trace.samples[0].splitlines()[0] == "TypeError: Cannot read properties of undefined (reading 'id')"


def test_traces_apart_count_separately_and_long_traces_are_abbreviated() -> None:
    frames = [f"\tat com.example.Deep.call{i}(Deep.java:{i})" for i in range(40)]
    log = ["java.lang.IllegalStateException: boom", *frames, "ok", "ok", "ok", "ok"]
    trace = by_category(log + log)[Category.JAVA_STACK_TRACE]
    assert trace.count == 2
    assert (trace.first_line, trace.last_line) == (1, len(log) + 41)
    sample = trace.samples[0].splitlines()
    assert len(sample) == analyze.TRACE_SAMPLE_LINES
    assert sample[-2:] == ["…", frames[-1]]


def test_every_trace_family_in_one_log_gives_one_finding_each() -> None:
    found = by_category(
        JAVA_OOM + ["-"] * 5 + GO_PANIC + ["-"] * 5 + PYTHON_TO_POSTGRES + ["-"] * 5 + NODE_TRACE
    )
    for category in (
        Category.JAVA_STACK_TRACE,
        Category.GO_PANIC,
        Category.PYTHON_TRACEBACK,
        Category.NODE_STACK_TRACE,
    ):
        assert found[category].count == 1, category
