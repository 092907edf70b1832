"""Log analysis: scan lines against the failure library, group traces, rank findings, mine templates.

Fed by log lines (a container's current or previous log, or a file for ``aiops logs analyze -f``);
consumed by the RCA engine (issue 5, step 2) as evidence, by the incident view, and by the CLI
(``Analysis.model_dump_json()`` for ``--json``).

One pass over the input: each line goes to the template miner (:mod:`.templates`) and to the
scanner (:mod:`.scan`); only matching lines reach Python code here. Multi-line traces (Python,
Java, Go, Node; :class:`~.patterns.TraceFamily`) are lines of one family at most ``trace_gap``
non-matching lines apart (a Python source line, a Go function line, a blank line between
goroutines); each trace counts once, with the exception line just before (Java, Node) or after
(Python) it as part of its sample. Other categories count matching lines. Findings are ranked by
severity (critical first), then count, then first appearance.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from aiops.enrichment.logs import scan as scan_mod
from aiops.enrichment.logs import templates as templates_mod
from aiops.enrichment.logs.patterns import CATEGORIES, Category, TraceFamily
from aiops.events.model import Severity, severity_rank

__all__ = ["Analysis", "Finding", "TemplateInfo", "TemplateSummary", "analyze"]

#: Longest sample line kept, in characters (the rest is cut and marked with "…").
MAX_SAMPLE_CHARS = 500
#: Lines of a trace kept in its sample: the first ones, then "…", then the last one.
TRACE_SAMPLE_LINES = 8
_WINDOW = 2 * scan_mod.CHUNK_LINES + 16


class Finding(BaseModel):
    """One category seen in the log: ``count`` matching lines (traces: count of traces), the first
    and last 1-based line numbers, up to a few ``samples`` (a trace's sample spans its lines)."""

    model_config = ConfigDict(frozen=True)

    category: Category
    severity: Severity
    count: int
    first_line: int
    last_line: int
    samples: list[str]
    meaning: str


class TemplateInfo(BaseModel):
    """A mined template: id, text with ``<*>`` parameters, number of lines."""

    model_config = ConfigDict(frozen=True)

    template_id: int
    template: str
    count: int


class TemplateSummary(BaseModel):
    """How the log groups: template count, rare templates (≤ ``rare_max_count`` lines, rarest
    first) and, given the templates known before (e.g. the previous rollout's), the new ones."""

    model_config = ConfigDict(frozen=True)

    total: int
    rare: list[TemplateInfo]
    new: list[TemplateInfo]


class Analysis(BaseModel):
    """Everything :func:`analyze` found in ``lines`` input lines; ``engine`` is the scan engine."""

    model_config = ConfigDict(frozen=True)

    lines: int
    engine: str
    findings: list[Finding]
    templates: TemplateSummary | None


@dataclass
class _Tally:
    count: int = 0
    first: int = 0
    last: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, first: int, last: int, sample: str, max_samples: int) -> None:
        self.count += 1
        self.first = min(self.first, first) if self.first else first
        self.last = max(self.last, last)
        if len(self.samples) < max_samples and sample not in self.samples:
            self.samples.append(sample)


@dataclass
class _Trace:
    family: TraceFamily
    first: int
    last: int
    lines: list[str]
    #: other categories on lines in or right after the trace: counted once per trace
    causes: dict[Category, list[tuple[int, str]]] = field(default_factory=dict)


class _Lines:
    """The recent input lines (a window larger than one scan chunk), counted as they stream by."""

    def __init__(self, miner: templates_mod.TemplateMiner | None) -> None:
        self.seen = 0
        self._window: deque[str] = deque(maxlen=_WINDOW)
        self._miner = miner

    def feed(self, lines: Iterable[str]) -> Iterator[str]:
        window, miner = self._window, self._miner
        for raw in lines:
            line = raw.rstrip("\r\n")
            window.append(line)
            if miner is not None:
                miner.add(line)
            self.seen += 1
            yield line

    def get(self, line_no: int) -> str | None:
        """Line ``line_no`` if it is still in the window, else None."""
        index = line_no - (self.seen - len(self._window)) - 1
        return self._window[index] if 0 <= index < len(self._window) else None


def _cut(line: str) -> str:
    return line if len(line) <= MAX_SAMPLE_CHARS else line[: MAX_SAMPLE_CHARS - 1] + "…"


def _is_indented(line: str | None) -> bool:
    return line is None or line[:1] in (" ", "\t") or not line.strip()


def _close(trace: _Trace, lines: _Lines) -> tuple[int, int, str]:
    """The trace's extent and sample, with the exception line before (Java, Node) or after (Python)."""
    first, last, body = trace.first, trace.last, trace.lines
    if trace.family in (TraceFamily.JAVA, TraceFamily.NODE) and _is_indented(body[0]):
        header = lines.get(first - 1)
        if header is not None and not _is_indented(header):
            first, body = first - 1, [header, *body]
    elif trace.family is TraceFamily.PYTHON:
        for line_no in (last + 1, last + 2, last + 3):
            line = lines.get(line_no)
            if not _is_indented(line):
                assert line is not None
                last, body = line_no, [*body, line]
                break
    if len(body) > TRACE_SAMPLE_LINES:
        body = [*body[: TRACE_SAMPLE_LINES - 2], "…", body[-1]]
    return first, last, "\n".join(_cut(line) for line in body)


def analyze(
    lines: Iterable[str],
    *,
    scanner: scan_mod.Scanner | None = None,
    miner: templates_mod.TemplateMiner | None = None,
    mine_templates: bool = True,
    known_templates: Collection[str] | None = None,
    rare_max_count: int = 1,
    max_rare: int = 20,
    max_samples: int = 3,
    trace_gap: int = 2,
) -> Analysis:
    """Analyse ``lines`` (an iterable of log lines, consumed once; trailing ``\\r\\n`` is stripped).

    ``scanner`` defaults to :func:`~.scan.scanner` with the full library (build it once and pass it
    when analysing many logs); ``miner`` to a fresh :class:`~.templates.TemplateMiner` unless
    ``mine_templates`` is false (then ``templates`` is None). ``trace_gap`` is how many
    non-matching lines may separate two lines of one trace.
    """
    scanner = scanner or scan_mod.scanner()
    if mine_templates and miner is None:
        miner = templates_mod.TemplateMiner()
    stream = _Lines(miner if mine_templates else None)
    tallies: dict[Category, _Tally] = {}
    open_traces: dict[TraceFamily, _Trace] = {}

    def finish(trace: _Trace) -> None:
        first, last, sample = _close(trace, stream)
        category = next(p.category for p in scanner.patterns if p.trace is trace.family)
        tallies.setdefault(category, _Tally()).add(first, last, sample, max_samples)
        for cause, where in trace.causes.items():
            # the most telling line: the last one that is not an indented frame or source line
            text = next((t for _, t in reversed(where) if not _is_indented(t)), where[-1][1])
            tallies.setdefault(cause, _Tally()).add(where[0][0], where[-1][0], _cut(text), max_samples)

    latest: _Trace | None = None
    for hit in scanner.scan(stream.feed(lines)):
        for family, trace in list(open_traces.items()):
            if hit.line_no - trace.last > trace_gap + 1:
                finish(open_traces.pop(family))
        if latest is not None and latest.family not in open_traces:
            latest = None
        categories: list[Category] = []
        for pid in hit.pattern_ids:
            pattern = scanner.patterns[pid]
            if pattern.trace is not None:
                latest = open_traces.setdefault(pattern.trace, _Trace(pattern.trace, hit.line_no, 0, []))
                if latest.last != hit.line_no:
                    latest.last = hit.line_no
                    latest.lines.append(hit.text)
            elif pattern.category not in categories:
                categories.append(pattern.category)
        for category in categories:
            if latest is not None:
                latest.causes.setdefault(category, []).append((hit.line_no, hit.text))
            else:
                tally = tallies.setdefault(category, _Tally())
                tally.add(hit.line_no, hit.line_no, _cut(hit.text), max_samples)
    for trace in sorted(open_traces.values(), key=lambda t: t.first):
        finish(trace)

    findings = [
        Finding(
            category=category,
            severity=CATEGORIES[category].severity,
            count=t.count,
            first_line=t.first,
            last_line=t.last,
            samples=t.samples,
            meaning=CATEGORIES[category].meaning,
        )
        for category, t in tallies.items()
    ]
    findings.sort(key=lambda f: (-severity_rank(f.severity), -f.count, f.first_line))
    return Analysis(
        lines=stream.seen,
        engine=scanner.engine,
        findings=findings,
        templates=_summary(miner, known_templates, rare_max_count, max_rare) if mine_templates else None,
    )


def _summary(
    miner: templates_mod.TemplateMiner | None,
    known: Collection[str] | None,
    rare_max_count: int,
    max_rare: int,
) -> TemplateSummary:
    assert miner is not None
    stats = miner.templates()
    info = [TemplateInfo(template_id=s.template_id, template=s.template, count=s.count) for s in stats]
    rare = sorted((t for t in info if t.count <= rare_max_count), key=lambda t: (t.count, t.template_id))
    new = [t for t in info if t.template not in known] if known is not None else []
    return TemplateSummary(total=len(info), rare=rare[:max_rare], new=new[:max_rare])
