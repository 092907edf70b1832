"""What the heuristic RCA rules share: their constants and small tolerant readers over the evidence.

Fed by: :class:`~aiops.enrichment.rca.model.Evidence` (raw Kubernetes JSON kept as plain dicts).
Consumed by: the rule modules of this package (:mod:`.containers`, :mod:`.rollout`,
:mod:`.cluster`) and :mod:`aiops.enrichment.rca.heuristics` itself. The underscore helpers are
package-internal. Container states are read through :mod:`aiops.bodies` (``ContainerStatus``
``state``/``lastState``/``restartCount``, Kubernetes API reference); evidence references
(``status:OOMKilled``, ``event:BackOff x14``, ``log:postgres line 12``) and confidences are
defined in ``docs/rca.md``. Exit codes above 128 are 128 + the signal number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiops import bodies
from aiops.enrichment.logs.patterns import interpret_exit_code
from aiops.enrichment.rca.model import Evidence, LogFinding, RcaResult, RootCause
from aiops.sources.kubewatch import fields

R = RootCause
OOM_PLAYBOOK, CRASH_PLAYBOOK = "oom_kill_remediation", "crash_loop_remediation"
ROLLBACK_PLAYBOOK, NODE_PLAYBOOK = "deployment_rollback", "node_not_ready_remediation"
SCALE_PLAYBOOK = "scale_up_on_load"
_OOM_LOGS = ("oom_kernel", "oom_java", "oom_go", "oom_node", "oom_python")
_IMAGE_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
_CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})
_PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure")
_DEPENDENCIES = ("postgres", "mysql", "redis", "message_broker", "dns", "tls", "connection_refused")
_NETWORK = ("timeout", "connection_reset", "upstream_unavailable")
_TRACES = ("go_panic", "panic", "segfault", "python_traceback", "java_stack_trace", "node_stack_trace")
#: Log-finding groups ``(category, log categories, confidence, title)``, checked in this order;
#: within a group the first log category present is quoted.
LOG_GROUPS: tuple[tuple[RootCause, tuple[str, ...], float, str], ...] = (
    (R.CONFIGURATION_ERROR, ("missing_config", "auth"), 0.8, "Configuration error"),
    (R.PERMISSIONS, ("permission_denied", "read_only_fs"), 0.75, "Permission problem"),
    (R.DEPENDENCY_UNAVAILABLE, (*_DEPENDENCIES, *_NETWORK), 0.75, "Dependency unavailable"),
    (R.CONFIGURATION_ERROR, ("missing_file", "address_in_use"), 0.7, "Configuration error"),
    (R.RESOURCE_EXHAUSTION, ("disk_full", "too_many_open_files"), 0.7, "Resource exhausted"),
    (R.APPLICATION_CRASH, _TRACES, 0.7, "Application crash"),
)
_STEPS: Mapping[RootCause, tuple[str, ...]] = {
    R.OUT_OF_MEMORY: ("Compare the container's memory working set with its limit (kubectl top pod).",
                      "Raise the limit or fix the leak; for the JVM, size the heap (-XX:MaxRAMPercentage)."),
    R.DEPENDENCY_UNAVAILABLE: ("Check the dependency's pods, Service endpoints and DNS name.",
                               "Make the app retry with back-off instead of exiting while it is down."),
    R.CONFIGURATION_ERROR: ("Diff env, ConfigMaps, Secrets and command against the last working revision.",),
    R.APPLICATION_CRASH: ("Read the trace in the previous log (kubectl logs --previous); fix or roll back.",),
    R.PERMISSIONS: ("Check securityContext (runAsUser, fsGroup, readOnlyRootFilesystem) and mounts.",),
    R.IMAGE_PROBLEM: ("Check the image and tag exist in the registry and imagePullSecrets grant access.",),
    R.PROBE_MISCONFIGURED: ("Check the probe's path, port and timeout; add a startupProbe for slow starts.",),
    R.BAD_ROLLOUT: ("Roll back (kubectl rollout undo), then diff the two revisions.",),
    R.NODE_FAILURE: ("Check the kubelet and runtime; cordon and drain the node if it stays down.",),
    R.RESOURCE_EXHAUSTION: ("Add capacity or lower the load; review requests, limits and quotas.",),
    R.SCHEDULING: ("Compare the pod's requests, nodeSelector, affinity and tolerations with the nodes.",),
    R.STORAGE: ("Check the PVC, its StorageClass provisioner and the volume attachment.",),
}  # fmt: skip

Rule = Callable[[Evidence], RcaResult | None]


# ---- small readers over the evidence (tolerant: plain JSON dicts) ----


#: The lenient readers of :mod:`aiops.bodies`, under short names.
_m, _s = bodies.mapping, bodies.string


def _i(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: object) -> datetime | None:
    try:
        return fields.parse_time(_s(value))
    except ValueError:
        return None


def _terminated(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """``lastState.terminated``, else ``state.terminated`` (a Job pod that will not restart)."""
    return bodies.last_terminated(status) or bodies.state_terminated(status)


def _waiting(status: Mapping[str, Any]) -> Mapping[str, Any]:
    return bodies.waiting(status)


def _restarts(status: Mapping[str, Any]) -> int:
    return bodies.restart_count(status)


def _crashing(ev: Evidence) -> Mapping[str, Any] | None:
    """The crashing container with the most restarts: CrashLoopBackOff or a non-zero exit code."""
    crashing = [
        s
        for s in ev.container_statuses
        if _s(_waiting(s).get("reason")) == "CrashLoopBackOff"
        or (_i(_terminated(s).get("exitCode")) or 0) != 0
    ]
    return max(crashing, key=_restarts, default=None)


def _events(ev: Evidence, *reasons: str) -> list[Mapping[str, Any]]:
    return [e for e in ev.events if e.get("reason") in reasons]


def _event_ref(event: Mapping[str, Any]) -> str:
    return f"event:{_s(event.get('reason'))} x{_i(event.get('count')) or 1}"


def _finding(ev: Evidence, categories: Iterable[str]) -> LogFinding | None:
    by_category = {f.category: f for f in ev.log_findings}
    return next((by_category[c] for c in categories if c in by_category), None)


def _log_ref(finding: LogFinding) -> str:
    return f"log:{finding.category} line {finding.first_line}"


def _quote(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return "“" + (line if len(line) <= limit else line[: limit - 1] + "…") + "”"


def _last_line(ev: Evidence) -> str:
    return next((line for line in reversed(ev.log_excerpt) if line.strip()), "")


def _limit(ev: Evidence, container: str, resource: str = "memory") -> str:
    return _s(_m(ev.resources.get(container, {}).get("limits")).get(resource))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _exit_facts(status: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``"exit 1: <meaning>, 7 restarts"`` and its refs for a crashing container."""
    term, restarts = _terminated(status), _restarts(status)
    code = _i(term.get("exitCode"))
    refs = [f"restarts:{_s(status.get('name'))} {restarts}"]
    parts = [_plural(restarts, "restart")]
    if code is not None:
        refs.insert(0, f"exit:{code}")
        parts.insert(0, interpret_exit_code(code))
    if _s(_waiting(status).get("reason")) == "CrashLoopBackOff":
        refs.insert(0, "status:CrashLoopBackOff")
    return ", ".join(parts), refs


def _result(
    category: RootCause, confidence: float, summary: str, refs: Sequence[str], playbook: str | None = None
) -> RcaResult:
    unique = list(dict.fromkeys(r for r in refs if r))[:20]
    return RcaResult(
        summary=summary[:2000],
        category=category,
        confidence=round(min(max(confidence, 0.0), 1.0), 2),
        evidence=unique,
        recommended_playbook=playbook,
        recommended_steps=list(_STEPS.get(category, [])),
        source="heuristic",
    )


def _rollout_note(ev: Evidence) -> str:
    if len(ev.rollout_history) < 2:
        return ""
    newest = ev.rollout_history[-1]
    return f" since revision {newest.get('revision')} rolled out at {newest.get('created')}"


def _log_group(ev: Evidence) -> tuple[tuple[RootCause, tuple[str, ...], float, str], LogFinding] | None:
    for group in LOG_GROUPS:
        if (finding := _finding(ev, group[1])) is not None:
            return group, finding
    return None


def _from_logs(ev: Evidence, *, crash: Mapping[str, Any] | None, penalty: float) -> RcaResult | None:
    found = _log_group(ev)
    if found is None:
        return None
    (category, members, confidence, title), finding = found
    others = [f for f in ev.log_findings if f.category in members and f is not finding]
    sample = _quote(finding.samples[0]) if finding.samples else finding.category
    if crash is not None:
        exit_text, refs = _exit_facts(crash)
        head = f"{title}: container {_s(crash.get('name'))} crashes ({exit_text})"
    else:
        head, refs = f"{title} (no crash seen)", []
    summary = f"{head}; log line {finding.first_line} shows {finding.category}: {sample}"
    if others:
        summary += f", with {', '.join(f.category for f in others)} also in the log"
    refs += [_log_ref(finding), *(_log_ref(f) for f in others)]
    playbook = CRASH_PLAYBOOK if category is R.APPLICATION_CRASH and crash is not None else None
    return _result(category, confidence - penalty, summary + ".", refs, playbook)
