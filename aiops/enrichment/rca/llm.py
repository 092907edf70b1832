"""LLM RCA: evidence → a prompt of quoted, redacted data → a validated :class:`RcaResult`.

Fed by: an :class:`~aiops.enrichment.rca.model.Evidence`, the :class:`LlmClient` (one door to the
endpoint), the ids of the existing playbooks, the redaction function and the heuristic RCA as
``fallback``, all passed in by the caller (wired in ``pipeline.py``). Consumed by: the enricher,
which attaches the result to the incident.

Safety: every string of the evidence is passed through ``redact`` before it is rendered, and
goes to the model inside a block delimited by a per-call random marker, one JSON-quoted value
per line, under a system rule that it is data, not instructions. The answer is validated
against :class:`RcaResult`; a playbook id outside ``playbook_ids`` becomes ``None``. Nothing
the model says executes. Any failure ends in ``fallback(evidence)``, with a ``llm:<reason>``
reference appended to its ``evidence``: this function never raises for an LLM problem.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import pydantic
from jinja2 import sandbox

from aiops.enrichment import llm as llm_client
from aiops.enrichment.rca import model

__all__ = ["RcaPrompt", "analyze_with_llm", "answer_schema", "render_prompts"]

logger = logging.getLogger(__name__)

#: Characters kept from one evidence line (a JSON-encoded value); longer lines are cut.
MAX_LINE_CHARS = 2000
#: Characters kept free in the budget for the validation error of a retry.
RETRY_RESERVE_CHARS = 1200
_MAX_ERROR_CHARS = 1000
_FENCED_JSON = re.compile(r"^\s*```(?:json)?\s*\n(?P<body>.*)\n\s*```\s*$", re.DOTALL)


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class RcaPrompt:
    """A rendered prompt: ``system`` and ``user`` texts; ``nonce`` marks the evidence block
    (``<<<EVIDENCE {nonce}>>>`` … ``<<<END EVIDENCE {nonce}>>>``); ``truncated`` says that some
    evidence lines were left out to fit ``max_input_chars``."""

    system: str
    user: str
    nonce: str
    truncated: bool


@functools.cache
def _environment() -> sandbox.SandboxedEnvironment:
    """The template environment (immutable once built): sandboxed, no autoescape, strict."""
    return sandbox.SandboxedEnvironment(
        loader=jinja2.PackageLoader("aiops.enrichment", "prompts"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def answer_schema() -> dict[str, Any]:
    """The JSON Schema the model answers in: :class:`RcaResult`'s, without ``source`` (and
    without the class docstring, which speaks of ``source``; the system prompt explains)."""
    schema = model.RcaResult.model_json_schema()
    schema.pop("description", None)
    schema["properties"].pop("source", None)
    if "source" in schema.get("required", []):
        schema["required"].remove("source")
    return schema


def render_prompts(
    evidence: model.Evidence,
    *,
    playbook_ids: Collection[str],
    max_input_chars: int,
    redact: Callable[[str], str] = _identity,
    previous_error: str | None = None,
    nonce: str | None = None,
) -> RcaPrompt:
    """Render ``rca_system.j2`` and ``rca_user.j2`` for ``evidence``.

    Every string in the evidence goes through ``redact`` first. ``len(system) + len(user)``
    stays within ``max_input_chars`` (characters) as far as the evidence allows: the structured
    evidence is kept first (in order of usefulness), then the newest log lines that still fit;
    :data:`RETRY_RESERVE_CHARS` are kept free for ``previous_error`` (a validation error shown
    on the retry, cut to 1000 characters). ``nonce`` defaults to 16 random hex digits.
    """
    env = _environment()
    nonce = nonce or secrets.token_hex(8)
    schema = json.dumps(answer_schema(), ensure_ascii=False, separators=(",", ":"))
    system = env.get_template("rca_system.j2").render(
        nonce=nonce, schema=schema, categories=[c.value for c in model.RootCause]
    )
    subject = evidence.subject
    where = f"{subject.namespace}/" if subject.namespace else ""
    context: dict[str, Any] = {
        "incident_type": evidence.incident_type,
        "subject": f"{subject.kind} {where}{subject.name}",
        "playbook_ids": sorted(playbook_ids),
        "nonce": nonce,
        "previous_error": previous_error[:_MAX_ERROR_CHARS] if previous_error else None,
    }
    user_template = env.get_template("rca_user.j2")
    empty = user_template.render(evidence_lines=[], truncated=True, **context)
    budget = max_input_chars - len(system) - len(empty) - RETRY_RESERVE_CHARS
    structured, logs = _evidence_lines(evidence, redact)
    lines, truncated = _fit(structured, logs, budget)
    user = user_template.render(evidence_lines=lines, truncated=truncated, **context)
    return RcaPrompt(system=system, user=user, nonce=nonce, truncated=truncated)


async def analyze_with_llm(
    evidence: model.Evidence,
    *,
    client: llm_client.LlmClient,
    fallback: Callable[[model.Evidence], model.RcaResult],
    playbook_ids: Collection[str],
    redact: Callable[[str], str] = _identity,
    metrics: llm_client.LlmMetrics | None = None,
) -> model.RcaResult:
    """Ask the model for an RCA of ``evidence``; on any LLM problem, return ``fallback(evidence)``.

    Steps: render the prompts (see :func:`render_prompts`, budget ``client.config.max_input_chars``),
    ask with :meth:`LlmClient.complete_json`, validate with ``RcaResult.model_validate_json``
    (a surrounding ```json fence is tolerated), set ``source="llm"``, and drop a
    ``recommended_playbook`` not in ``playbook_ids``. An invalid answer is retried once with the
    validation error appended to the user prompt. Fallback reasons, appended to the fallback
    result's ``evidence`` as ``llm:<reason>``: ``invalid-output``, ``timeout``, ``rate-limited``,
    ``server-error``, ``connection-error``, ``rejected``. Tokens and request latency are counted
    by the client's metrics; this function counts ``aiops_llm_rca_total{outcome}`` on
    ``metrics``. Raises only what ``fallback`` raises.
    """
    max_chars = client.config.max_input_chars
    prompt = render_prompts(evidence, playbook_ids=playbook_ids, max_input_chars=max_chars, redact=redact)
    schema = answer_schema()
    for attempt in range(2):
        try:
            reply = await client.complete_json(
                prompt.system, prompt.user, schema=schema, schema_name="rca_result"
            )
        except (llm_client.LlmUnavailable, llm_client.LlmRejected) as exc:
            logger.warning("LLM RCA fell back to the heuristic: %s (%s)", exc.reason, type(exc).__name__)
            return _fall_back(evidence, fallback, exc.reason, metrics)
        try:
            result = _parse(reply.text, playbook_ids)
        except pydantic.ValidationError as exc:
            logger.info("LLM RCA answer invalid (attempt %d): %d problem(s)", attempt + 1, exc.error_count())
            prompt = render_prompts(
                evidence,
                playbook_ids=playbook_ids,
                max_input_chars=max_chars,
                redact=redact,
                previous_error=_describe(exc),
                nonce=prompt.nonce,
            )
            continue
        if metrics is not None:
            metrics.rca_total.labels(outcome="llm" if attempt == 0 else "llm_retried").inc()
        return result
    logger.warning("LLM RCA fell back to the heuristic: invalid-output twice")
    return _fall_back(evidence, fallback, "invalid-output", metrics)


def _parse(text: str, playbook_ids: Collection[str]) -> model.RcaResult:
    """The model's text → a validated result from the ``llm`` source, playbook checked."""
    fenced = _FENCED_JSON.match(text)
    if fenced:
        text = fenced.group("body")
    result = model.RcaResult.model_validate_json(text)
    playbook = result.recommended_playbook
    if playbook is not None and playbook not in playbook_ids:
        logger.warning("LLM RCA named an unknown playbook; dropped")
        playbook = None
    return result.model_copy(update={"source": "llm", "recommended_playbook": playbook})


def _describe(exc: pydantic.ValidationError) -> str:
    """A validation error as ``loc: message; ...`` without echoing the input values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in error["loc"]) or "<root>"
        parts.append(f"{loc}: {error['msg']}")
    return "; ".join(parts)[:_MAX_ERROR_CHARS]


def _fall_back(
    evidence: model.Evidence,
    fallback: Callable[[model.Evidence], model.RcaResult],
    reason: str,
    metrics: llm_client.LlmMetrics | None,
) -> model.RcaResult:
    """``fallback(evidence)`` with ``llm:<reason>`` appended to its evidence (at most 20 refs)."""
    if metrics is not None:
        metrics.rca_total.labels(outcome=f"fallback_{reason.replace('-', '_')}").inc()
    result = fallback(evidence)
    refs = [*result.evidence[:19], f"llm:{reason}"]
    return result.model_copy(update={"evidence": refs})


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` (JSON-like) with ``redact`` applied to every string, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v, redact) for v in value]
    return value


def _line(label: str, value: Any, redact: Callable[[str], str]) -> str:
    encoded = json.dumps(_redacted(value, redact), ensure_ascii=False, sort_keys=True, default=str)
    line = f"{label}: {encoded}"
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 12] + " [truncated]"


def _object_summary(obj: dict[str, Any]) -> dict[str, Any]:
    """The few fields of the raw object worth a token: kind, labels, phase/reason/message."""
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    summary = {
        "kind": obj.get("kind"),
        "labels": metadata.get("labels"),
        "phase": status.get("phase"),
        "reason": status.get("reason"),
        "message": status.get("message"),
    }
    return {k: v for k, v in summary.items() if v}


def _evidence_lines(evidence: model.Evidence, redact: Callable[[str], str]) -> tuple[list[str], list[str]]:
    """(structured lines in order of usefulness, log lines oldest first), all redacted."""
    structured: list[str] = []
    summary = _object_summary(evidence.object)
    if summary:
        structured.append(_line("object", summary, redact))
    structured += [_line("container_status", s, redact) for s in evidence.container_statuses]
    structured += [_line("event", e, redact) for e in evidence.events]
    structured += [_line("log_finding", f.model_dump(), redact) for f in evidence.log_findings]
    structured += [
        _line("resources", {"container": name, **spec}, redact) for name, spec in evidence.resources.items()
    ]
    structured += [_line("node_condition", c, redact) for c in evidence.node_conditions]
    structured += [_line("rollout", r, redact) for r in evidence.rollout_history]
    structured += [
        _line("owner", ref.model_dump(by_alias=True, exclude_none=True), redact)
        for ref in evidence.owner_chain
    ]
    logs = [_line("log", line, redact) for line in evidence.log_excerpt]
    return structured, logs


def _fit(structured: Sequence[str], logs: Sequence[str], budget: int) -> tuple[list[str], bool]:
    """Structured lines first, then the newest log lines, within ``budget`` characters."""
    kept: list[str] = []
    used = 0
    for line in structured:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    tail: list[str] = []
    for line in reversed(logs):
        if used + len(line) + 1 > budget:
            break
        tail.append(line)
        used += len(line) + 1
    truncated = len(kept) < len(structured) or len(tail) < len(logs)
    return kept + tail[::-1], truncated
