"""Heuristic RCA rules about failing containers: OOM, image pulls, config errors, crashes, probes, logs.

Fed by: :class:`~aiops.enrichment.rca.model.Evidence` (``container_statuses``, ``events``,
``log_findings``, ``resources``). Consumed by: :data:`aiops.enrichment.rca.heuristics.RULES`.
Sources: Kubernetes API reference, ``ContainerStateWaiting`` reasons (``ImagePullBackOff``,
``ErrImagePull``, ``InvalidImageName``, ``CreateContainerConfigError``, ``CreateContainerError``,
``CrashLoopBackOff``) and ``ContainerStateTerminated`` (``OOMKilled``, ``exitCode``; 137 =
128 + SIGKILL), and the kubelet's ``Unhealthy`` probe Events. Confidences: ``docs/rca.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiops.enrichment.rca.heuristics.common import (
    _CONFIG_REASONS,
    _IMAGE_REASONS,
    _OOM_LOGS,
    CRASH_PLAYBOOK,
    OOM_PLAYBOOK,
    R,
    _crashing,
    _event_ref,
    _events,
    _exit_facts,
    _finding,
    _from_logs,
    _i,
    _last_line,
    _limit,
    _log_group,
    _log_ref,
    _plural,
    _quote,
    _restarts,
    _result,
    _rollout_note,
    _s,
    _terminated,
    _waiting,
)
from aiops.enrichment.rca.model import Evidence, RcaResult, RootCause

__all__ = ["container_config", "crash_exit_code", "crash_with_logs", "image", "logs_only", "oom", "probe"]


def oom(ev: Evidence) -> RcaResult | None:
    """OOMKilled (0.9), or exit 137 with a memory limit (0.75), or an OOM log finding (0.7); +0.05
    when both status and log agree. Recommends ``oom_kill_remediation``."""
    log_oom = _finding(ev, _OOM_LOGS)
    for status in sorted(ev.container_statuses, key=_restarts, reverse=True):
        term, name = _terminated(status), _s(status.get("name"))
        killed = _s(term.get("reason")) == "OOMKilled"
        limit = _limit(ev, name)
        if not killed and not (_i(term.get("exitCode")) == 137 and limit):
            continue
        confidence = (0.9 if killed else 0.75) + (0.05 if log_oom else 0.0)
        what = (
            f"hit its {limit} memory limit" if limit else "was OOM-killed with no memory limit (node memory)"
        )
        code = _i(term.get("exitCode"))
        restarts = _restarts(status)
        summary = (
            f"{'OOMKilled' if killed else 'Killed (exit 137)'}: container {name} {what}"
            f"{f' (exit {code})' if code is not None else ''}, {_plural(restarts, 'restart')}"
            f"{_rollout_note(ev)}"
        )
        refs = [f"status:{'OOMKilled' if killed else 'exit 137'}", f"restarts:{name} {restarts}"]
        refs += [f"limit:{name} memory {limit}"] if limit else []
        if log_oom is not None:
            summary += (
                f"; the log shows {_quote(log_oom.samples[0] if log_oom.samples else log_oom.category)}"
            )
            refs.append(_log_ref(log_oom))
        if last := _last_line(ev):
            summary += f"; the previous log ends with {_quote(last)}"
        return _result(R.OUT_OF_MEMORY, confidence, summary + ".", refs, OOM_PLAYBOOK)
    if log_oom is not None and _crashing(ev) is not None:
        sample = _quote(log_oom.samples[0]) if log_oom.samples else log_oom.category
        summary = (
            f"Out of memory: the log shows {sample} (line {log_oom.first_line}) and the container crashes."
        )
        return _result(R.OUT_OF_MEMORY, 0.7, summary, [_log_ref(log_oom)], OOM_PLAYBOOK)
    return None


def image(ev: Evidence) -> RcaResult | None:
    """A container waiting in ImagePullBackOff/ErrImagePull/InvalidImageName (0.9), or only
    ``Failed``/``BackOff`` pull Events (0.8) → image_problem."""
    for status in ev.container_statuses:
        reason = _s(_waiting(status).get("reason"))
        if reason in _IMAGE_REASONS:
            pulls = [e for e in _events(ev, "Failed", "BackOff") if "pull" in _s(e.get("message")).lower()]
            detail = _s(pulls[0].get("message")) if pulls else _s(_waiting(status).get("message"))
            summary = f"{reason}: container {_s(status.get('name'))} cannot pull {_s(status.get('image'))}"
            summary += f" ({_quote(detail)})." if detail else "."
            refs = [f"status:{reason}", *(_event_ref(e) for e in pulls)]
            return _result(R.IMAGE_PROBLEM, 0.9, summary, refs)
    pulls = [
        e for e in _events(ev, "Failed", "BackOff", "ErrImagePull") if "pull" in _s(e.get("message")).lower()
    ]
    if pulls:
        summary = f"Image pull failure: {_quote(_s(pulls[-1].get('message')))}."
        return _result(R.IMAGE_PROBLEM, 0.8, summary, [_event_ref(e) for e in pulls])
    return None


def container_config(ev: Evidence) -> RcaResult | None:
    """A container waiting in CreateContainerConfigError/CreateContainerError → configuration_error (0.9)."""
    for status in ev.container_statuses:
        waiting = _waiting(status)
        reason = _s(waiting.get("reason"))
        if reason in _CONFIG_REASONS:
            message = _s(waiting.get("message"))
            summary = f"{reason}: container {_s(status.get('name'))} cannot start"
            summary += f": {message}." if message else "."
            return _result(R.CONFIGURATION_ERROR, 0.9, summary, [f"status:{reason}"])
    return None


def crash_with_logs(ev: Evidence) -> RcaResult | None:
    """A crashing container and log findings, by group (``LOG_GROUPS``, 0.7-0.8)."""
    crash = _crashing(ev)
    return _from_logs(ev, crash=crash, penalty=0.0) if crash is not None else None


def probe(ev: Evidence) -> RcaResult | None:
    """``Unhealthy`` probe Events while the log shows no error (crash-group findings are absent by
    then): liveness kills (exit 137/143 or restarts) 0.7, readiness only 0.6 → probe_misconfigured."""
    unhealthy = _events(ev, "Unhealthy")
    if not unhealthy or _log_group(ev) is not None:
        return None
    crash = _crashing(ev)
    kinds = sorted({_s(e.get("message")).split(" ", 1)[0] for e in unhealthy})
    liveness = "Liveness" in kinds and (crash is None or _i(_terminated(crash).get("exitCode")) in (137, 143))
    total = sum(_i(e.get("count")) or 1 for e in unhealthy)
    last = _s(unhealthy[-1].get("message"))
    summary = f"Probe failures: {'/'.join(kinds)} probe failed {total} times ({_quote(last)})"
    if crash is not None:
        summary += f"; the kubelet restarts the container ({_exit_facts(crash)[0]})"
    summary += " while the log shows no application error; the probe is likely misconfigured."
    refs = [_event_ref(e) for e in unhealthy] + (_exit_facts(crash)[1] if crash is not None else [])
    return _result(R.PROBE_MISCONFIGURED, 0.7 if liveness else 0.6, summary, refs)


_EXIT_CAUSES: Mapping[int, tuple[RootCause, float]] = {
    127: (R.CONFIGURATION_ERROR, 0.6),
    126: (R.PERMISSIONS, 0.5),
    139: (R.APPLICATION_CRASH, 0.6),
    137: (R.RESOURCE_EXHAUSTION, 0.4),
}


def crash_exit_code(ev: Evidence) -> RcaResult | None:
    """A crash with no telling log: by exit code (127 config 0.6, 126 permissions 0.5, 139 crash
    0.6, 137 without a memory limit 0.4, others application_crash 0.4)."""
    crash = _crashing(ev)
    if crash is None:
        return None
    code = _i(_terminated(crash).get("exitCode"))
    category, confidence = _EXIT_CAUSES.get(code or 0, (R.APPLICATION_CRASH, 0.4))
    exit_text, refs = _exit_facts(crash)
    summary = f"Crash: container {_s(crash.get('name'))} keeps exiting ({exit_text})"
    summary += "; the log has no recognised error." if ev.log_excerpt else "; no log was available."
    playbook = CRASH_PLAYBOOK if category is R.APPLICATION_CRASH else None
    return _result(category, confidence, summary, refs, playbook)


def logs_only(ev: Evidence) -> RcaResult | None:
    """Log findings without a crash: the log groups at 0.25 less confidence."""
    return _from_logs(ev, crash=None, penalty=0.25)
