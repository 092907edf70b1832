"""Single-pass pattern scan: which library patterns match which lines.

Fed by log lines and :data:`aiops.enrichment.logs.patterns.PATTERNS`; consumed by
:mod:`aiops.enrichment.logs.analyze`. Three engines, identical results (tests compare them):

- ``hyperscan`` (Intel Hyperscan via the ``hyperscan`` package): every pattern in one database;
  lines are joined by ``\\n`` into chunks and each chunk is scanned in one call, so Python only runs
  for lines that match. Used when the package imports.
- ``re``: a literal prefilter (:func:`required_literals`: strings every match must contain, found
  with ``str.find`` at C speed in the lowered chunk) picks candidate lines and patterns, then only
  those patterns run on those lines. The fallback.
- ``re-each``: each pattern on each line; the slow reference the other two are tested against.

A result is a :class:`Hit` per line with at least one match: 1-based line number, the text, and the
sorted indexes of the patterns that matched (indexes into the pattern tuple given).
Lines must not contain ``\\n`` (split them first); ``\\r`` is harmless.
"""

from __future__ import annotations

import bisect
import importlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal, Protocol

from aiops.enrichment.logs.patterns import PATTERNS, Pattern

__all__ = [
    "CHUNK_LINES",
    "Engine",
    "Hit",
    "Scanner",
    "available_engines",
    "hyperscan_available",
    "required_literals",
    "scanner",
]

Engine = Literal["hyperscan", "re", "re-each"]
#: Lines per chunk handed to one engine call (bounds memory to a few MB per scan).
CHUNK_LINES = 8192
_RE_FLAGS = re.IGNORECASE | re.MULTILINE | re.ASCII
_NEWLINE = re.compile("\n")


@dataclass(frozen=True)
class Hit:
    """Line ``line_no`` (1-based) with ``text`` matched the patterns at ``pattern_ids`` (sorted)."""

    line_no: int
    text: str
    pattern_ids: tuple[int, ...]


class Scanner(Protocol):
    """Scans lines against a fixed pattern tuple."""

    engine: Engine
    patterns: tuple[Pattern, ...]

    def scan(self, lines: Iterable[str]) -> Iterator[Hit]:
        """Yield a :class:`Hit` per matching line, in line order."""
        ...


def _chunks(lines: Iterable[str]) -> Iterator[list[str]]:
    it = iter(lines)
    while chunk := list(islice(it, CHUNK_LINES)):
        yield chunk


def _required_literals(items: Any) -> frozenset[str] | None:
    """Strings of which every match of the parsed sequence ``items`` contains one, or None.

    Walks ``re._parser`` output: a run of literals (zero-width ``\\b``/``^`` inside a run are
    transparent) is one candidate, a required group or repeat (min ≥ 1) recurses, a branch is the
    union of its branches' sets. The best candidate has the longest shortest string.
    """
    best: frozenset[str] | None = None

    def consider(option: frozenset[str] | None) -> None:
        nonlocal best
        if option and (
            best is None or (min(map(len, option)), -len(option)) > (min(map(len, best)), -len(best))
        ):
            best = option

    run: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            run.append(chr(arg).lower())
            continue
        if name == "AT":
            continue
        consider(frozenset({"".join(run)}) if run else None)
        run = []
        if name == "BRANCH":
            branches = [_required_literals(branch) for branch in arg[1]]
            consider(None if any(b is None for b in branches) else frozenset().union(*branches))  # type: ignore[arg-type]
        elif name == "SUBPATTERN":
            consider(_required_literals(arg[3]))
        elif name in ("MAX_REPEAT", "MIN_REPEAT") and arg[0] >= 1:
            consider(_required_literals(arg[2]))
    consider(frozenset({"".join(run)}) if run else None)
    return best


def required_literals(regex: str) -> frozenset[str] | None:
    """Lower-case strings of which every match of ``regex`` contains one (None: no such set of
    strings of length ≥ 2); the ``re`` engine's prefilter, searched with ``str.find``."""
    parser: Any = importlib.import_module("re._parser")  # the stdlib's regex parser (no stubs)
    found = _required_literals(parser.parse(regex))
    return found if found and min(map(len, found)) >= 2 else None


class _ReScanner:
    """``re`` engine: literal prefilter then only the candidate patterns (``each=False``), or every
    pattern on every line (``each=True``, the reference)."""

    def __init__(self, patterns: Sequence[Pattern], *, each: bool) -> None:
        self.engine: Engine = "re-each" if each else "re"
        self.patterns = tuple(patterns)
        self._each = [re.compile(p.regex, _RE_FLAGS) for p in self.patterns]
        self._per_line = each
        self._anchors: dict[str, list[int]] = {}
        self._unanchored: list[int] = []
        for pid, pattern in enumerate(self.patterns):
            literals = required_literals(pattern.regex)
            if literals is None:
                self._unanchored.append(pid)
            for literal in literals or ():
                self._anchors.setdefault(literal, []).append(pid)

    def _ids(self, line: str) -> tuple[int, ...]:
        return tuple(i for i, rx in enumerate(self._each) if rx.search(line))

    def scan(self, lines: Iterable[str]) -> Iterator[Hit]:
        base = 0
        for chunk in _chunks(lines):
            if self._per_line:
                for i, line in enumerate(chunk):
                    if ids := self._ids(line):
                        yield Hit(base + i + 1, line, ids)
            else:
                yield from self._scan_joined(chunk, base)
            base += len(chunk)

    def _scan_joined(self, chunk: list[str], base: int) -> Iterator[Hit]:
        # str.lower() never adds or removes "\n", so offsets in ``low`` map to the same line index;
        # it may fold a few non-ASCII letters to ASCII: extra candidates, which the regex then rejects
        low = "\n".join(chunk).lower()
        newlines: list[int] | None = None
        candidates: dict[int, set[int]] = {}

        def add(offset: int, pids: Iterable[int]) -> None:
            nonlocal newlines
            if newlines is None:
                newlines = [m.start() for m in _NEWLINE.finditer(low)]
            candidates.setdefault(bisect.bisect_left(newlines, offset), set()).update(pids)

        for literal, pids in self._anchors.items():
            at = low.find(literal)
            while at >= 0:
                add(at, pids)
                eol = low.find("\n", at)
                at = -1 if eol < 0 else low.find(literal, eol + 1)
        for pid in self._unanchored:  # none in the built-in library; kept correct, not fast
            for idx, line in enumerate(chunk):
                if self._each[pid].search(line):
                    candidates.setdefault(idx, set()).add(pid)
        for idx in sorted(candidates):
            line = chunk[idx]
            if ids := tuple(pid for pid in sorted(candidates[idx]) if self._each[pid].search(line)):
                yield Hit(base + idx + 1, line, ids)


class _HyperscanScanner:
    """``hyperscan`` engine: one block-mode database, one scan call per chunk of lines."""

    engine: Engine = "hyperscan"

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        import hyperscan

        self.patterns = tuple(patterns)
        flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_MULTILINE | hyperscan.HS_FLAG_UTF8
        self._db: Any = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=[p.regex.encode() for p in self.patterns],
            ids=list(range(len(self.patterns))),
            elements=len(self.patterns),
            flags=[flags] * len(self.patterns),
        )

    def scan(self, lines: Iterable[str]) -> Iterator[Hit]:
        base = 0
        for chunk in _chunks(lines):
            found = self._scan_block("\n".join(chunk).encode("utf-8", "replace"))
            for idx in sorted(found):
                yield Hit(base + idx + 1, chunk[idx], tuple(sorted(found[idx])))
            base += len(chunk)

    def _scan_block(self, data: bytes) -> dict[int, set[int]]:
        """Pattern ids per 0-based line index of ``data`` (lines joined by ``\\n``)."""
        found: dict[int, set[int]] = {}
        # matches arrive in end-offset order, so newlines are counted incrementally (recounted if not)
        cursor = [0, 0]  # [byte offset counted up to, line index there]

        def on_match(pid: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            if end < cursor[0]:
                cursor[0] = cursor[1] = 0
            cursor[1] += data.count(b"\n", cursor[0], end)
            cursor[0] = end
            found.setdefault(cursor[1], set()).add(pid)

        self._db.scan(data, match_event_handler=on_match)
        return found


def hyperscan_available() -> bool:
    """True when the ``hyperscan`` package imports (it needs a Hyperscan-capable x86-64 CPU)."""
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def available_engines() -> list[Engine]:
    """The engines usable here, fastest first."""
    engines: list[Engine] = ["re", "re-each"]
    return ["hyperscan", *engines] if hyperscan_available() else engines


def scanner(patterns: Sequence[Pattern] = PATTERNS, *, engine: Engine | None = None) -> Scanner:
    """A compiled scanner; ``engine=None`` picks hyperscan when available, else ``re``.

    Raises ImportError when ``engine="hyperscan"`` is asked for and the package is missing, and
    ``re.error`` / ``hyperscan.error`` on a pattern the engine cannot compile.
    """
    if engine is None:
        engine = "hyperscan" if hyperscan_available() else "re"
    if engine == "hyperscan":
        return _HyperscanScanner(patterns)
    return _ReScanner(patterns, each=engine == "re-each")
