"""Evidence builders: raw Kubernetes JSON, Events and log lines → one :class:`~.model.Evidence`.

Fed by: the live enricher (objects fetched through ``aiops.kube``) and ``aiops rca -f OBJECT
[--events FILE] [--logs FILE]`` through :func:`load_files` (saved ``kubectl get -o json|yaml``,
``kubectl get events -o json|yaml`` and ``kubectl logs [--previous]`` output). Consumed by: the
heuristic RCA (:mod:`.heuristics`), the LLM RCA and the incident store.

:func:`from_objects` is pure: no I/O and no wall clock. The incident type comes from the same
detectors the operator runs (:func:`aiops.sources.kubewatch.detect`), evaluated at a *reference
time* taken from the newest timestamp in the object and its Events, so a post-mortem on a
week-old dump reads it as it was then. Shapes follow the Kubernetes API reference: ``PodStatus``
(``containerStatuses[].state/lastState``), ``ObjectMeta.ownerReferences``, ``NodeStatus.conditions``,
core/v1 ``Event`` (``involvedObject``, ``count``, ``firstTimestamp``, ``lastTimestamp``) and the
Deployment controller's ``deployment.kubernetes.io/revision`` annotation on ReplicaSets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiops import bodies, errors
from aiops import objects as objects_mod
from aiops.enrichment.logs import analyze as analyze_mod
from aiops.enrichment.logs import scan as scan_mod
from aiops.enrichment.rca.model import Evidence, LogFinding
from aiops.events.model import ObjectRef
from aiops.sources import kubewatch
from aiops.sources.kubewatch import fields

__all__ = ["EXCERPT_LINES", "REVISION_ANNOTATION", "from_objects", "load_files", "reference_time"]

#: Lines of the (previous) container log kept as ``Evidence.log_excerpt``.
EXCERPT_LINES = 40
#: The Deployment controller's revision annotation on ReplicaSets (and Deployments).
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
#: Owner hops followed at most (Pod → ReplicaSet → Deployment needs two).
MAX_OWNER_DEPTH = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The lenient readers of :mod:`aiops.bodies`, under short names.
_map, _maps, _str, _meta = bodies.mapping, bodies.maps, bodies.string, bodies.meta
_TEMPLATE_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"})


def _time(value: object) -> datetime | None:
    try:
        return fields.parse_time(_str(value))
    except ValueError:
        return None


def _ref(obj: Mapping[str, Any]) -> ObjectRef:
    """The object's own reference; tolerant of partial bodies (``Unknown``/``unknown``)."""
    kind = _str(obj.get("kind")) or "Unknown"
    meta = _meta(obj)
    return ObjectRef(
        api_version=_str(obj.get("apiVersion")) or fields.DEFAULT_API_VERSIONS.get(kind, ""),
        kind=kind,
        namespace=None if kind in fields.CLUSTER_SCOPED_KINDS else (_str(meta.get("namespace")) or None),
        name=_str(meta.get("name")) or "unknown",
        uid=_str(meta.get("uid")) or None,
    )


def reference_time(obj: Mapping[str, Any], events: Sequence[Mapping[str, Any]] = ()) -> datetime:
    """The newest timestamp in ``obj`` and ``events`` (aware UTC): "now" as the dump saw it.

    The rule is :func:`aiops.sources.kubewatch.newest_timestamp`, the one ``aiops detect`` uses,
    so the two offline tools judge a saved dump alike. The Unix epoch when there is none (then
    no time-based detector rule can apply anyway).
    """
    return kubewatch.newest_timestamp([obj, *events]) or _EPOCH


def _controller(obj: Mapping[str, Any]) -> ObjectRef | None:
    """The ``controller: true`` owner reference (else the first) of ``obj``, in its namespace;
    an HPA's ``scaleTargetRef``. Cluster-scoped owners (a mirror pod's Node) are not followed."""
    if obj.get("kind") == "HorizontalPodAutoscaler":
        return kubewatch.owner_of(obj)
    ref = bodies.primary_owner(obj)
    if ref is None:
        return None
    kind, name = _str(ref.get("kind")), _str(ref.get("name"))
    if not kind or not name or kind in fields.CLUSTER_SCOPED_KINDS:
        return None
    return ObjectRef(
        api_version=_str(ref.get("apiVersion")) or fields.DEFAULT_API_VERSIONS.get(kind, ""),
        kind=kind,
        namespace=_str(_meta(obj).get("namespace")) or None,
        name=name,
        uid=_str(ref.get("uid")) or None,
    )


def _owner_chain(obj: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> list[ObjectRef]:
    """Refs from ``obj`` up: controller ``ownerReferences``, followed through ``related`` bodies.
    Without the ReplicaSet body, a Pod's ReplicaSet ``<deployment>-<pod-template-hash>`` implies
    its Deployment (:func:`aiops.sources.kubewatch.owner_of`)."""
    by_key = {(_str(o.get("kind")), _str(_meta(o).get("name"))): o for o in related}
    chain: list[ObjectRef] = []
    current = obj
    for _ in range(MAX_OWNER_DEPTH):
        owner = _controller(current)
        if owner is None or owner in chain:
            break
        chain.append(owner)
        parent = by_key.get((owner.kind, owner.name))
        if parent is None:
            implied = kubewatch.owner_of(current) if current.get("kind") == "Pod" else None
            if implied is not None and implied.kind == "Deployment" and owner.kind == "ReplicaSet":
                chain.append(implied)
            break
        current = parent
    return chain


def _event(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A core/v1 (or events.k8s.io/v1) Event as ``{type, reason, message, count, first_timestamp,
    last_timestamp, involved}``; ``involved`` is ``Kind/name[/container]``."""
    involved = _map(raw.get("involvedObject")) or _map(raw.get("regarding"))
    series = _map(raw.get("series"))
    counts = [
        c for c in (raw.get("count"), series.get("count"), raw.get("deprecatedCount")) if isinstance(c, int)
    ]
    path = _str(involved.get("fieldPath"))
    container = path[path.find("{") + 1 : -1] if "{" in path and path.endswith("}") else ""
    first = raw.get("firstTimestamp") or raw.get("eventTime") or raw.get("deprecatedFirstTimestamp")
    last = (
        raw.get("lastTimestamp")
        or series.get("lastObservedTime")
        or raw.get("deprecatedLastTimestamp")
        or raw.get("eventTime")
        or first
    )
    name = "/".join(p for p in (_str(involved.get("kind")), _str(involved.get("name")), container) if p)
    return {
        "type": _str(raw.get("type")),
        "reason": _str(raw.get("reason")),
        "message": _str(raw.get("message")) or _str(raw.get("note")),
        "count": max(counts, default=1),
        "first_timestamp": _str(first) or None,
        "last_timestamp": _str(last) or None,
        "involved": name or _str(raw.get("involved")),
    }


def _relevant(names: set[str], prefixes: tuple[str, ...], raw: Mapping[str, Any]) -> bool:
    involved = _map(raw.get("involvedObject")) or _map(raw.get("regarding"))
    if not involved:
        return True  # already normalised, or no reference: keep
    name = _str(involved.get("name"))
    return name in names or (bool(prefixes) and name.startswith(prefixes))


def _events(
    obj: Mapping[str, Any],
    chain: Sequence[ObjectRef],
    related: Sequence[Mapping[str, Any]],
    raw: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Events about ``obj``, its owners, related objects and (for workloads) their pods, oldest first."""
    names = {_ref(obj).name, *(r.name for r in chain), *(_ref(o).name for o in related)}
    node = _str(_map(obj.get("spec")).get("nodeName"))
    if node:
        names.add(node)
    prefixes = (f"{_ref(obj).name}-",) if obj.get("kind") in _TEMPLATE_KINDS else ()
    kept = [_event(e) for e in raw if isinstance(e, Mapping) and _relevant(names, prefixes, e)]
    return sorted(kept, key=lambda e: _time(e["last_timestamp"]) or _EPOCH)


def _container_statuses(obj: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Pod's init and app container statuses; for a workload, those of its related Pods
    (each with an added ``pod`` key)."""
    if obj.get("kind") == "Pod":
        return [dict(s) for s in bodies.container_statuses(obj)]
    return [
        {**s, "pod": _ref(pod).name}
        for pod in related
        if pod.get("kind") == "Pod"
        for s in bodies.container_statuses(pod, init=False)
    ]


def _resources(obj: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Container name → ``{requests, limits}`` from the Pod spec or a workload's pod template."""
    spec = _map(obj.get("spec"))
    if obj.get("kind") != "Pod":
        template = _map(_map(spec.get("template")).get("spec"))
        pods = [p for p in related if p.get("kind") == "Pod"]
        spec = template or (_map(pods[0].get("spec")) if pods else {})
    return {
        _str(c.get("name")): {
            "requests": dict(_map(_map(c.get("resources")).get("requests"))),
            "limits": dict(_map(_map(c.get("resources")).get("limits"))),
        }
        for key in ("initContainers", "containers")
        for c in _maps(spec.get(key))
        if _str(c.get("name"))
    }


def _node_conditions(obj: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``status.conditions`` of ``obj`` when it is a Node, else of the first related Node."""
    node = obj if obj.get("kind") == "Node" else next((o for o in related if o.get("kind") == "Node"), {})
    return [dict(c) for c in bodies.conditions(_map(node.get("status")))]


def _rollout_history(
    obj: Mapping[str, Any], chain: Sequence[ObjectRef], related: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``{revision, replicaset, images, created, replicas, available}`` for the related ReplicaSets
    owned by the Deployment (``obj`` or one in the owner chain), oldest revision first."""
    deployment = _ref(obj).name if obj.get("kind") == "Deployment" else None
    deployment = deployment or next((r.name for r in chain if r.kind == "Deployment"), None)
    if deployment is None:
        return []
    history: list[dict[str, Any]] = []
    for rs in related:
        owners = [_str(r.get("name")) for r in bodies.owner_references(rs) if r.get("kind") == "Deployment"]
        revision = _str(_map(_meta(rs).get("annotations")).get(REVISION_ANNOTATION))
        if rs.get("kind") != "ReplicaSet" or deployment not in owners or not revision.isdigit():
            continue
        containers = _maps(_map(_map(_map(rs.get("spec")).get("template")).get("spec")).get("containers"))
        status = _map(rs.get("status"))
        history.append(
            {
                "revision": int(revision),
                "replicaset": _ref(rs).name,
                "images": [_str(c.get("image")) for c in containers if _str(c.get("image"))],
                "created": _str(_meta(rs).get("creationTimestamp")) or None,
                "replicas": status.get("replicas") if isinstance(status.get("replicas"), int) else 0,
                "available": status.get("availableReplicas")
                if isinstance(status.get("availableReplicas"), int)
                else 0,
            }
        )
    return sorted(history, key=lambda h: int(h["revision"]))


def _findings(lines: list[str], scanner: scan_mod.Scanner | None) -> list[LogFinding]:
    if not lines:
        return []
    result = analyze_mod.analyze(lines, scanner=scanner, mine_templates=False)
    return [
        LogFinding(
            category=f.category.value,
            severity=f.severity.value,
            count=f.count,
            first_line=f.first_line,
            last_line=f.last_line,
            samples=list(f.samples),
        )
        for f in result.findings
    ]


def from_objects(
    obj: Mapping[str, Any],
    *,
    events: Sequence[Mapping[str, Any]] = (),
    logs: Sequence[str] = (),
    previous_logs: Sequence[str] = (),
    related: Sequence[Mapping[str, Any]] = (),
    now: datetime | None = None,
    scanner: scan_mod.Scanner | None = None,
) -> Evidence:
    """The evidence about ``obj`` (one object as ``kubectl get -o json`` prints it).

    ``events``: raw core/v1 Events (any involving ``obj``, its owners, ``related`` objects, its
    node or — for workloads — its pods are kept). ``logs``/``previous_logs``: the current and
    previous container's lines (analysed previous first, so line numbers count from the previous
    log). ``related``: other bodies (the Pod's ReplicaSets, its Deployment, its Node, a
    workload's Pods). ``now`` anchors the detectors; default :func:`reference_time`. ``scanner``
    is the log scanner to reuse (built per call when ``None``). Never raises on partial bodies.
    """
    related = [o for o in related if isinstance(o, Mapping)]
    detected = kubewatch.detect(obj, now=now or reference_time(obj, events))
    chain = _owner_chain(obj, related)
    lines = [*previous_logs, *logs]
    excerpt = list(previous_logs or logs)[-EXCERPT_LINES:]
    return Evidence(
        incident_type=detected[0].type.value if detected else "unknown",
        subject=detected[0].subject if detected else _ref(obj),
        object=dict(obj),
        owner_chain=chain,
        events=_events(obj, chain, related, events),
        container_statuses=_container_statuses(obj, related),
        log_findings=_findings([line.rstrip("\r\n") for line in lines], scanner),
        log_excerpt=[line.rstrip("\r\n") for line in excerpt],
        node_conditions=_node_conditions(obj, related),
        rollout_history=_rollout_history(obj, chain, related),
        resources=_resources(obj, related),
    )


def _read_objects(path: Path) -> list[Mapping[str, Any]]:
    """Every object in a saved JSON or YAML file: documents in order, ``List`` items flattened
    (:func:`aiops.objects.iter_objects`, the reader ``aiops detect`` uses), a JSON array's items.
    Raises ``OSError`` when unreadable and :class:`aiops.errors.ConfigError` naming ``FILE:LINE``
    when it is neither JSON nor YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise errors.ConfigError(f"{path}: not a text file: {error}") from error
    return list(objects_mod.iter_objects(text, source=str(path)))


def load_files(
    object_path: str | Path,
    events_path: str | Path | None = None,
    logs_path: str | Path | None = None,
    *,
    now: datetime | None = None,
) -> Evidence:
    """Evidence from saved files, for ``aiops rca -f OBJECT [--events FILE] [--logs FILE] [--at T]``.

    ``object_path``: ``kubectl get -o json`` or ``-o yaml`` output (JSON or YAML, like
    ``aiops detect``); a single object, a ``List`` or several YAML documents, whose first object
    is the subject and the rest ``related``. ``events_path``: ``kubectl get events -o json|yaml``
    (a ``List``) or a JSON array of Events. ``logs_path``: a text log, read as the *previous*
    container's log (``kubectl logs --previous``: the one that crashed). ``now`` anchors the
    detectors; default: the newest timestamp in every object and Event read
    (:func:`aiops.sources.kubewatch.newest_timestamp`, as ``aiops detect`` does). Raises
    ``OSError`` for unreadable files and :class:`aiops.errors.ConfigError` for text that is
    neither JSON nor YAML (naming ``FILE:LINE``) or holds no Kubernetes object.
    """
    object_path = Path(object_path)
    objects = [o for o in _read_objects(object_path) if "kind" in o and "metadata" in o]
    if not objects:
        raise errors.ConfigError(f"{object_path}: no Kubernetes object (with kind and metadata) found")
    events: list[Mapping[str, Any]] = []
    if events_path is not None:
        events = _read_objects(Path(events_path))
    lines: list[str] = []
    if logs_path is not None:
        lines = Path(logs_path).read_text(encoding="utf-8", errors="replace").splitlines()
    now = now or kubewatch.newest_timestamp([*objects, *events])
    return from_objects(objects[0], events=events, previous_logs=lines, related=objects[1:], now=now)
