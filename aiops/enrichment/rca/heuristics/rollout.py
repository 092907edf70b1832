"""Heuristic RCA rule for a bad rollout: a crash or a stalled Deployment that began with the newest revision.

Fed by: :class:`~aiops.enrichment.rca.model.Evidence` (``rollout_history`` from the ReplicaSets'
``deployment.kubernetes.io/revision`` annotation, ``owner_chain``, the Deployment ``object``).
Consumed by: :data:`aiops.enrichment.rca.heuristics.RULES`. Sources: Kubernetes API reference,
``DeploymentCondition`` ``Progressing`` reason ``ProgressDeadlineExceeded`` and
``DeploymentStatus`` (``availableReplicas``, ``updatedReplicas``). Confidences: ``docs/rca.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiops import bodies
from aiops.enrichment.rca.heuristics.common import (
    ROLLBACK_PLAYBOOK,
    R,
    _crashing,
    _events,
    _exit_facts,
    _i,
    _log_group,
    _log_ref,
    _m,
    _quote,
    _result,
    _s,
    _terminated,
    _time,
)
from aiops.enrichment.rca.model import Evidence, RcaResult

__all__ = ["bad_rollout"]


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
        progressing = bodies.condition(bodies.conditions(status_), "Progressing") or {}
        stuck = _s(progressing.get("reason")) == "ProgressDeadlineExceeded"
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
