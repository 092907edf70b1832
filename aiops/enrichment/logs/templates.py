"""Template mining: group log lines into templates with drain3, after masking variable tokens.

Fed by raw log lines (a container log, a file given to ``aiops logs templates -f FILE``); consumed
by :mod:`aiops.enrichment.logs.analyze` (rare templates in the analysis) and by the CLI, which prints
one ``{"template_id": int, "template": str}`` object per input line from :meth:`TemplateMiner.assign`.

Algorithm: Drain (Pinjia He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree",
ICWS 2017) as implemented by the ``drain3`` package (logpai/Drain3). Before Drain sees a line,
:data:`MASKS` replaces variable tokens (UUIDs, IPs, hex, durations, paths with numbers, ids and
numbers) with ``<*>``: unmasked, every request id makes a new cluster. ``max_clusters`` bounds
memory (least recently used clusters are evicted). There is one configuration for every log
(:data:`DEFAULT_CONFIG`): users' logs come unannounced, so nothing is tuned per dataset.

Evaluation helpers for the Loghub benchmark live here too: :func:`log_format_regex` turns a Loghub
``log_format`` (``"<Date> <Time> <Level> <Component>: <Content>"``) into the header regex the Loghub
benchmark uses, and :func:`grouping_accuracy` is the GA metric of Zhu et al., "Tools and Benchmarks
for Automated Log Parsing", ICSE-SEIP 2019.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from drain3 import TemplateMiner as _Drain3Miner
from drain3.drain import Drain
from drain3.template_miner_config import TemplateMinerConfig

__all__ = [
    "DEFAULT_CONFIG",
    "DRAIN3_DEFAULTS",
    "MASKS",
    "MinerConfig",
    "TemplateMiner",
    "TemplateStat",
    "grouping_accuracy",
    "log_format_regex",
    "mask",
]

PARAM = "<*>"

#: Masks applied in order, each ``(name, regex)``; a match becomes ``<*>``. Order matters: the
#: specific shapes (UUID, IP:port, hex) go before the generic "token containing a digit".
MASKS: tuple[tuple[str, str], ...] = (
    ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("path", r"(?<![\w<])(?:[\w.-]*/)+[\w.-]*\d[\w./-]*"),
    ("ip", r"/?\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{16,}\b"),
    ("duration", r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d)\b"),
    ("id_or_number", r"(?<![\w<])[\w.:-]*\d[\w.:-]*(?![\w>])"),
)


@dataclass(frozen=True)
class MinerConfig:
    """Drain parameters: ``sim_th`` (0..1 token similarity to join a cluster), ``depth`` (parse tree
    depth, ≥ 3), ``max_children`` per tree node, ``max_clusters`` (LRU bound), and the masks."""

    sim_th: float = 0.6
    depth: int = 5
    max_children: int = 100
    max_clusters: int | None = 4096
    masks: tuple[tuple[str, str], ...] = MASKS
    extra_delimiters: tuple[str, ...] = ()
    mask_aware: bool = True


#: The one configuration used for every log (see docs/logs.md for how it was chosen).
DEFAULT_CONFIG = MinerConfig()
#: drain3's own defaults (sim_th 0.4, depth 4, no masking, unbounded), the benchmark's baseline.
DRAIN3_DEFAULTS = MinerConfig(sim_th=0.4, depth=4, max_clusters=None, masks=(), mask_aware=False)


@dataclass(frozen=True)
class TemplateStat:
    """One template: its id (stable for the miner's life), text with ``<*>`` parameters, line count."""

    template_id: int
    template: str
    count: int


class _MaskAwareDrain(Drain):  # type: ignore[misc]  # drain3 ships no type hints
    """Drain whose similarity counts a masked token (``<*>``) under a template parameter as a match.

    Plain Drain skips template parameters when it computes similarity (``simSeq`` in the paper), so
    the more we mask, the less similar two lines of one template look. With ``include_params`` set
    (drain3's ``match``) every parameter counts, as in drain3.
    """

    def get_seq_distance(self, seq1: list[str], seq2: list[str], include_params: bool) -> tuple[float, int]:
        if not seq1:
            return 1.0, 0
        param = self.param_str
        same = params = masked = 0
        for template_token, token in zip(seq1, seq2, strict=True):
            if template_token == param:
                params += 1
                masked += token == param
            elif template_token == token:
                same += 1
        same += params if include_params else masked
        return same / len(seq1), params


def _compile(masks: Sequence[tuple[str, str]]) -> list[re.Pattern[str]]:
    return [re.compile(regex) for _, regex in masks]


def mask(line: str, masks: Sequence[tuple[str, str]] = MASKS) -> str:
    """``line`` with every :data:`MASKS` match replaced by ``<*>`` (for display and tests)."""
    for regex in _compile(masks):
        line = regex.sub(PARAM, line)
    return line


class TemplateMiner:
    """A drain3 miner with our masking; one per log stream (it is stateful and not thread-safe).

    >>> miner = TemplateMiner()
    >>> [t for _, t in miner.assign(["took 12ms", "took 9ms"])]
    ['took <*>', 'took <*>']
    """

    def __init__(self, config: MinerConfig = DEFAULT_CONFIG) -> None:
        cfg = TemplateMinerConfig()
        cfg.drain_sim_th = config.sim_th
        cfg.drain_depth = config.depth
        cfg.drain_max_children = config.max_children
        cfg.drain_max_clusters = config.max_clusters
        cfg.drain_extra_delimiters = list(config.extra_delimiters)
        cfg.masking_instructions = []
        cfg.profiling_enabled = False
        self._masks = _compile(config.masks)
        self._miner = _Drain3Miner(persistence_handler=None, config=cfg)
        if config.mask_aware:
            self._miner.drain = _MaskAwareDrain(
                depth=config.depth,
                sim_th=config.sim_th,
                max_children=config.max_children,
                max_clusters=config.max_clusters,
                extra_delimiters=list(config.extra_delimiters),
                param_str=PARAM,
            )
        self._counts: Counter[int] = Counter()

    def add(self, line: str) -> tuple[int, str]:
        """Mine one line; return ``(template_id, template)`` as they stand after this line.

        A later line can generalise the template further (a token becomes ``<*>``); the id stays.
        """
        content = line.strip()
        for regex in self._masks:
            content = regex.sub(PARAM, content)
        cluster, _ = self._miner.drain.add_log_message(content)
        self._counts[cluster.cluster_id] += 1
        return cluster.cluster_id, cluster.get_template()

    def assign(self, lines: Iterable[str]) -> Iterator[tuple[int, str]]:
        """Yield ``(template_id, template)`` per input line, streaming (for ``aiops logs templates``)."""
        for line in lines:
            yield self.add(line)

    def templates(self) -> list[TemplateStat]:
        """Every template still held (``max_clusters`` may have evicted some), most frequent first."""
        out = [
            TemplateStat(cluster.cluster_id, cluster.get_template(), self._counts[cluster.cluster_id])
            for cluster in self._miner.drain.clusters
        ]
        return sorted(out, key=lambda s: (-s.count, s.template_id))

    def rare(self, max_count: int = 1) -> list[TemplateStat]:
        """Templates seen at most ``max_count`` times, rarest first: the unusual lines worth reading."""
        return sorted((s for s in self.templates() if s.count <= max_count), key=lambda s: s.count)


def log_format_regex(log_format: str) -> re.Pattern[str]:
    """The header regex for a Loghub ``log_format``, built as logparser's ``generate_logformat_regex``.

    ``<Field>`` becomes a lazy named group, runs of spaces become ``\\s+``; anchored both ends.
    Source: github.com/logpai/logparser, ``logparser/Drain/Drain.py``.
    """
    parts = re.split(r"(<[^<>]+>)", log_format)
    regex = ""
    for k, part in enumerate(parts):
        if k % 2 == 0:
            regex += re.sub(" +", r"\\s+", part)
        else:
            regex += f"(?P<{part.strip('<>')}>.*?)"
    return re.compile(f"^{regex}$")


def grouping_accuracy(predicted: Sequence[object], truth: Sequence[object]) -> float:
    """Grouping accuracy (GA) in 0..1: the fraction of lines whose predicted group holds exactly the
    lines of their ground-truth group (Zhu et al., ICSE-SEIP 2019; logparser ``evaluator.py``).

    ``predicted[i]`` and ``truth[i]`` are group labels of line ``i``; raises ValueError on a length
    mismatch.
    """
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} lines")
    if not truth:
        return 1.0
    truth_sizes = Counter(truth)
    members: dict[object, list[object]] = {}
    for p, t in zip(predicted, truth, strict=True):
        members.setdefault(p, []).append(t)
    correct = 0
    for labels in members.values():
        first = labels[0]
        if all(label == first for label in labels) and truth_sizes[first] == len(labels):
            correct += len(labels)
    return correct / len(truth)
