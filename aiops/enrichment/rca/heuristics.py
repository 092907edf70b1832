"""Heuristic RCA: ordered, deterministic rules over :class:`~.model.Evidence` → :class:`~.model.RcaResult`.

Fed by: :mod:`.evidence` (live or from files for ``aiops rca``). Consumed by: the incident
enricher, the LLM RCA (as its fallback when the model fails), the CLI, API and chat.

Always available, offline, no clock: the same evidence gives the same result. The first rule
that matches answers (order and confidences in ``docs/rca.md``): OOM kill, node failure or
pressure, image pull, container config error, bad rollout, crash explained by log findings,
probe misconfiguration, crash explained by its exit code only, scheduling, storage, autoscaler
at its ceiling, replica creation failure, log findings without a crash, and else ``unknown``.
Each result cites its evidence (``status:OOMKilled``, ``event:BackOff x14``, ``log:postgres line
12``, ``rollout:revision 15``...). Sources: Kubernetes API reference (``ContainerStateTerminated``
reasons and exit codes, ``NodeCondition``, Deployment conditions, scheduler/kubelet Event reasons);
exit codes above 128 are 128 + the signal number (137 = SIGKILL, 139 = SIGSEGV, 143 = SIGTERM).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiops.enrichment.logs.patterns import interpret_exit_code
from aiops.enrichment.rca.model import Evidence, LogFinding, RcaResult, RootCause
from aiops.sources.kubewatch import fields

__all__ = ["RULES", "analyze"]

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


def _m(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _s(value: object) -> str:
    return value if isinstance(value, str) else ""


def _i(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: object) -> datetime | None:
    try:
        return fields.parse_time(_s(value))
    except ValueError:
        return None


def _terminated(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """``lastState.terminated``, else ``state.terminated`` (a Job pod that will not restart)."""
    return _m(_m(status.get("lastState")).get("terminated")) or _m(_m(status.get("state")).get("terminated"))


def _waiting(status: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(_m(status.get("state")).get("waiting"))


def _restarts(status: Mapping[str, Any]) -> int:
    return _i(status.get("restartCount")) or 0


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


# ---- the rules, in order ----


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


def node(ev: Evidence) -> RcaResult | None:
    """Node ``Ready`` False/Unknown → node_failure (0.85); a pressure condition True →
    resource_exhaustion (0.75); a ``NodeNotReady`` Event only → node_failure (0.7)."""
    spec = _m(ev.object.get("spec"))
    name = ev.subject.name if ev.subject.kind == "Node" else _s(spec.get("nodeName")) or "?"
    conditions = {_s(c.get("type")): c for c in ev.node_conditions}
    ready = conditions.get("Ready", {})
    if _s(ready.get("status")) in ("False", "Unknown"):
        detail = f"{_s(ready.get('reason'))}: {_s(ready.get('message'))}".strip(": ")
        since = _s(ready.get("lastTransitionTime"))
        summary = (
            f"Node {name} is NotReady (Ready={_s(ready.get('status'))}{f' since {since}' if since else ''})"
        )
        summary += f": {detail}." if detail else "."
        refs = [f"node:{name} Ready={_s(ready.get('status'))}", *map(_event_ref, _events(ev, "NodeNotReady"))]
        return _result(R.NODE_FAILURE, 0.85, summary, refs, NODE_PLAYBOOK)
    pressure = [c for t, c in conditions.items() if t in _PRESSURE and _s(c.get("status")) == "True"]
    if pressure:
        kinds = ", ".join(_s(c.get("type")) for c in pressure)
        messages = "; ".join(_s(c.get("message")) for c in pressure if _s(c.get("message")))
        summary = (
            f"Node {name} reports {kinds}{f' ({messages})' if messages else ''}; pods on it may be evicted."
        )
        refs = [f"node:{name} {_s(c.get('type'))}=True" for c in pressure]
        return _result(R.RESOURCE_EXHAUSTION, 0.75, summary, refs, NODE_PLAYBOOK)
    if events := _events(ev, "NodeNotReady"):
        summary = f"Node {name} was reported NotReady: {_s(events[-1].get('message'))}."
        return _result(R.NODE_FAILURE, 0.7, summary, [_event_ref(e) for e in events], NODE_PLAYBOOK)
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


def _crash_began(ev: Evidence, status: Mapping[str, Any]) -> str:
    """When the crashes began: the earliest crash BackOff Event or the last termination's start."""
    times = [
        _s(e.get("first_timestamp")) for e in _events(ev, "BackOff") if "restarting" in _s(e.get("message"))
    ]
    times.append(_s(_terminated(status).get("startedAt")))
    parsed = sorted(t for t in map(_time, times) if t is not None)
    return parsed[0].isoformat().replace("+00:00", "Z") if parsed else ""


def _images(revision: Mapping[str, Any]) -> str:
    images = revision.get("images")
    return ", ".join(str(i) for i in images) if isinstance(images, list) and images else "?"


def bad_rollout(ev: Evidence) -> RcaResult | None:
    """With ≥ 2 revisions: a crash in the newest revision's pods that began after it was created
    (0.8; 0.7 on timing alone), or a Deployment with ProgressDeadlineExceeded or 0 available
    after the new revision (0.75, 0.8 with crashing pods) → bad_rollout, ``deployment_rollback``."""
    if len(ev.rollout_history) < 2:
        return None
    new, old = ev.rollout_history[-1], ev.rollout_history[-2]
    new_rs, created = _s(new.get("replicaset")), _time(new.get("created"))
    status = _crashing(ev)
    refs = [f"rollout:revision {new.get('revision')} {new_rs} created {new.get('created')}"]
    confidence, why = 0.0, ""
    if status is not None and created is not None:
        in_new = any(r.name == new_rs for r in ev.owner_chain) or _s(status.get("pod")).startswith(
            f"{new_rs}-"
        )
        began = _crash_began(ev, status)
        after = bool(began) and (_time(began) or created) >= created
        if after or in_new:
            exit_text, exit_refs = _exit_facts(status)
            confidence = 0.8 if after and in_new else 0.7
            since = f" since {began}" if began else ""
            why = f"container {_s(status.get('name'))} crashes{since} ({exit_text})"
            refs += exit_refs
    if ev.subject.kind == "Deployment" and ev.object.get("kind") == "Deployment":
        status_ = _m(ev.object.get("status"))
        conditions = {_s(_m(c).get("type")): _m(c) for c in status_.get("conditions") or []}
        stuck = _s(conditions.get("Progressing", {}).get("reason")) == "ProgressDeadlineExceeded"
        desired = _i(_m(ev.object.get("spec")).get("replicas"))
        down = (1 if desired is None else desired) > 0 and not _i(status_.get("availableReplicas"))
        if stuck or (down and (_i(status_.get("updatedReplicas")) or 0) > 0):
            state = "exceeded its progress deadline" if stuck else "has 0 available replicas"
            why = f"the Deployment {state}" + (f"; {why}" if why else "")
            refs.append("condition:Progressing ProgressDeadlineExceeded" if stuck else "status:0 available")
            confidence = 0.8 if confidence else 0.75
    if not confidence:
        return None
    if (found := _log_group(ev)) is not None:
        why += (
            f"; the log shows {found[1].category} {_quote(found[1].samples[0] if found[1].samples else '')}"
        )
        refs.append(_log_ref(found[1]))
    summary = (
        f"Bad rollout: revision {new.get('revision')} ({new_rs}, image {_images(new)}) was created at "
        f"{new.get('created')} and {why}. Roll back to revision {old.get('revision')} "
        f"({_s(old.get('replicaset'))}, image {_images(old)})."
    )
    return _result(R.BAD_ROLLOUT, confidence, summary, refs, ROLLBACK_PLAYBOOK)


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


def scheduling(ev: Evidence) -> RcaResult | None:
    """``FailedScheduling`` Events or ``PodScheduled=False/Unschedulable`` → scheduling (0.85)."""
    events = _events(ev, "FailedScheduling")
    conds = [_m(c) for c in _m(ev.object.get("status")).get("conditions") or []]
    unschedulable = [
        c for c in conds if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
    ]
    if not events and not unschedulable:
        return None
    message = _s(events[-1].get("message")) if events else _s(unschedulable[0].get("message"))
    summary = f"Unschedulable: the scheduler cannot place pod {_s(_m(ev.object.get('metadata')).get('name'))}"
    summary += f": {_quote(message, 300)}." if message else "."
    refs = [_event_ref(e) for e in events] + (
        ["condition:PodScheduled Unschedulable"] if unschedulable else []
    )
    return _result(R.SCHEDULING, 0.85, summary, refs)


def storage(ev: Evidence) -> RcaResult | None:
    """``FailedMount``/``FailedAttachVolume``/``ProvisioningFailed`` Events (0.8) or a Pending PVC (0.7)."""
    events = _events(ev, "FailedMount", "FailedAttachVolume", "ProvisioningFailed")
    if events:
        summary = f"Storage: {_s(events[-1].get('reason'))} {_quote(_s(events[-1].get('message')), 300)}."
        return _result(R.STORAGE, 0.8, summary, [_event_ref(e) for e in events])
    if ev.incident_type == "pvc_pending":
        spec = _m(ev.object.get("spec"))
        klass = _s(spec.get("storageClassName")) or "the default class"
        summary = f"Storage: PersistentVolumeClaim {ev.subject.name} is Pending (storage class {klass})."
        return _result(R.STORAGE, 0.7, summary, ["status:PVC Pending"])
    return None


def hpa_maxed(ev: Evidence) -> RcaResult | None:
    """An autoscaler at ``maxReplicas`` wanting more → resource_exhaustion (0.7), ``scale_up_on_load``."""
    if ev.incident_type != "hpa_maxed":
        return None
    spec, status = _m(ev.object.get("spec")), _m(ev.object.get("status"))
    name = _s(_m(ev.object.get("metadata")).get("name"))
    summary = (
        f"Autoscaler at its ceiling: HPA {name} runs {_i(status.get('currentReplicas'))} of maxReplicas "
        f"{_i(spec.get('maxReplicas'))} (desired {_i(status.get('desiredReplicas'))}); load exceeds capacity."
    )
    return _result(
        R.RESOURCE_EXHAUSTION, 0.7, summary, ["status:ScalingLimited TooManyReplicas"], SCALE_PLAYBOOK
    )


def replica_failure(ev: Evidence) -> RcaResult | None:
    """``FailedCreate`` Events: quota exceeded → resource_exhaustion (0.7), else configuration_error (0.5)."""
    events = _events(ev, "FailedCreate")
    if not events:
        return None
    message = _s(events[-1].get("message"))
    quota = "exceeded quota" in message
    summary = f"Replicas cannot be created: {_quote(message, 300)}."
    category = R.RESOURCE_EXHAUSTION if quota else R.CONFIGURATION_ERROR
    return _result(category, 0.7 if quota else 0.5, summary, [_event_ref(e) for e in events])


def logs_only(ev: Evidence) -> RcaResult | None:
    """Log findings without a crash: the log groups at 0.25 less confidence."""
    return _from_logs(ev, crash=None, penalty=0.25)


def unknown(ev: Evidence) -> RcaResult:
    """Nothing matched: 0.2 when an incident was detected, 0.1 when the object looks healthy."""
    subject = ev.subject.key
    if ev.incident_type == "unknown" and not ev.events and not ev.log_findings:
        return _result(
            R.UNKNOWN, 0.1, f"No problem found: {subject} shows no failing status, event or error log.", []
        )
    refs = [_event_ref(e) for e in ev.events if e.get("type") == "Warning"][:5]
    summary = f"Unknown cause: {ev.incident_type} on {subject}; the evidence matches no known pattern."
    return _result(R.UNKNOWN, 0.2, summary, [f"incident:{ev.incident_type}", *refs])


#: The rules in the order they are tried; the first result wins, then :func:`unknown`.
RULES: tuple[Rule, ...] = (
    oom,
    node,
    image,
    container_config,
    bad_rollout,
    crash_with_logs,
    probe,
    crash_exit_code,
    scheduling,
    storage,
    hpa_maxed,
    replica_failure,
    logs_only,
)


def analyze(evidence: Evidence) -> RcaResult:
    """The heuristic RCA of ``evidence`` (``source="heuristic"``): the first matching rule of
    :data:`RULES`, else ``unknown`` with confidence 0.1-0.2. Pure and deterministic."""
    for rule in RULES:
        if (result := rule(evidence)) is not None:
            return result
    return unknown(evidence)
