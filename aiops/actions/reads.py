"""Read-only actions (risk ``low``): describe, events, logs, rollout_history, notify.

Fed by: the executor through the registry (validated params, an :class:`ActionContext`).
Consumed by: playbooks' evidence steps and the chat copilot's read-only tools.
These never write to the cluster and are not audited.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from aiops import bodies
from aiops.actions import _common
from aiops.actions.base import ActionContext, ActionResult
from aiops.events.model import ObjectRef

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


class DescribeParams(_common.Params):
    """``describe``: ``api_version``/``kind``/``namespace``/``name``; namespace None: cluster-scoped.

    The name is checked against the naming rules of ``kind`` by :func:`aiops.kube.resource_path`.
    """

    api_version: str
    kind: str
    namespace: _common.Namespace | None = None
    name: str = Field(min_length=1)

    def target(self) -> str:
        return _common.ref(self.kind, self.namespace, self.name)

    def object_ref(self) -> ObjectRef:
        """The object described."""
        return ObjectRef(
            api_version=self.api_version, kind=self.kind, namespace=self.namespace, name=self.name
        )

    def reach(self) -> _common.Reach:
        """The object's namespace; without one a cluster-scoped object (and its Events, listed
        across every namespace)."""
        if self.namespace:
            return _common.Reach(frozenset({self.namespace}))
        return _common.Reach(cluster=True)


async def describe(ctx: ActionContext, params: DescribeParams) -> ActionResult:
    """Output ``{"object": <object without managedFields>, "events": [event summaries, oldest first]}``.

    Events are the core/v1 Events whose involvedObject is this object (``kubectl describe``).
    """
    obj = await ctx.kube.get(params.api_version, params.kind, params.namespace, params.name)
    _common.meta(obj).pop("managedFields", None)
    uid = _common.meta(obj).get("uid")
    ref = ObjectRef(
        api_version=params.api_version,
        kind=params.kind,
        namespace=params.namespace,
        name=params.name,
        uid=uid,
    )
    events = [_common.event_summary(e) for e in await ctx.kube.events_for(ref)]
    return ActionResult(
        ok=True,
        summary=f"{params.target()}: {len(events)} event(s)",
        output={"object": obj, "events": events},
    )


class EventsParams(_common.Params):
    """``events``: the Events about ``kind``/``name`` in ``namespace`` (None: all namespaces)."""

    kind: str
    name: str = Field(min_length=1)
    namespace: _common.Namespace | None = None
    api_version: str | None = None

    def target(self) -> str:
        return _common.ref(self.kind, self.namespace, self.name)

    def object_ref(self) -> ObjectRef:
        """The object whose events are read."""
        return ObjectRef(
            api_version=self.api_version or ("v1" if self.kind in {"Pod", "Node"} else "apps/v1"),
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
        )

    def reach(self) -> _common.Reach:
        """``namespace``; without one the Events are listed across every namespace."""
        if self.namespace:
            return _common.Reach(frozenset({self.namespace}))
        return _common.Reach(cluster=True)


async def events(ctx: ActionContext, params: EventsParams) -> ActionResult:
    """Output: ``[{type, reason, message, count, lastTimestamp}, ...]``, oldest first."""
    ref = ObjectRef(
        api_version=params.api_version or "", kind=params.kind, namespace=params.namespace, name=params.name
    )
    found = [_common.event_summary(e) for e in await ctx.kube.events_for(ref)]
    return ActionResult(ok=True, summary=f"{params.target()}: {len(found)} event(s)", output=found)


class LogsParams(_common.Params):
    """``logs``: a container's log; ``previous`` for the last terminated instance (a crash's log).

    ``tail_lines`` defaults to ``limits.log_tail_lines``; ``since_seconds`` keeps only lines
    newer than that many seconds.
    """

    namespace: _common.Namespace
    pod: _common.Name
    container: str | None = None
    previous: bool = False
    tail_lines: int | None = Field(default=None, ge=0)
    since_seconds: int | None = Field(default=None, ge=1)

    def target(self) -> str:
        return _common.ref("Pod", self.namespace, self.pod)

    def object_ref(self) -> ObjectRef:
        """The pod whose log is read."""
        return ObjectRef(api_version="v1", kind="Pod", namespace=self.namespace, name=self.pod)


async def logs(ctx: ActionContext, params: LogsParams) -> ActionResult:
    """Output: the log text. The API answers 400 when there is no previous instance (ok=False)."""
    tail = params.tail_lines if params.tail_lines is not None else ctx.limits.log_tail_lines
    text = await ctx.kube.pod_log(
        params.namespace,
        params.pod,
        container=params.container,
        previous=params.previous,
        tail_lines=tail,
        since_seconds=params.since_seconds,
    )
    which = "previous " if params.previous else ""
    container = f" container {params.container}" if params.container else ""
    lines = len(text.splitlines())
    return ActionResult(
        ok=True, summary=f"{lines} line(s) of the {which}log of {params.target()}{container}", output=text
    )


class RolloutHistoryParams(_common.Params):
    """``rollout_history``: the revisions of Deployment ``deployment`` in ``namespace``."""

    namespace: _common.Namespace
    deployment: _common.Name

    def target(self) -> str:
        return _common.ref("Deployment", self.namespace, self.deployment)

    def object_ref(self) -> ObjectRef:
        """The Deployment whose history is read."""
        return ObjectRef(
            api_version="apps/v1", kind="Deployment", namespace=self.namespace, name=self.deployment
        )


def revision_of(obj: dict[str, Any]) -> int | None:
    """The ``deployment.kubernetes.io/revision`` annotation as an int, or None."""
    value = _common.annotations_of(obj).get(REVISION)
    return int(value) if value is not None and value.isdigit() else None


async def owned_replicasets(ctx: ActionContext, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The ReplicaSets the Deployment controls: its selector, and a controller ownerReference to its uid
    (how ``kubectl rollout history`` and the deployment controller find them)."""
    meta = _common.meta(deployment)
    selector = bodies.selector_string((deployment.get("spec") or {}).get("selector"))
    found = await ctx.kube.list(
        "apps/v1", "ReplicaSet", meta.get("namespace"), label_selector=selector or None
    )
    return [rs for rs in found if (bodies.controller_owner(rs) or {}).get("uid") == meta.get("uid")]


async def rollout_history(ctx: ActionContext, params: RolloutHistoryParams) -> ActionResult:
    """Output: ``[{revision, replicaset, images, created, change_cause}, ...]`` sorted by revision."""
    deployment = await ctx.kube.get("apps/v1", "Deployment", params.namespace, params.deployment)
    history: list[tuple[int, dict[str, Any]]] = []
    for rs in await owned_replicasets(ctx, deployment):
        revision = revision_of(rs)
        if revision is None:
            continue
        containers = ((rs.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
        history.append(
            (
                revision,
                {
                    "revision": revision,
                    "replicaset": _common.meta(rs).get("name"),
                    "images": [c.get("image") for c in containers],
                    "created": _common.meta(rs).get("creationTimestamp"),
                    "change_cause": _common.annotations_of(rs).get(CHANGE_CAUSE),
                },
            )
        )
    output = [entry for _, entry in sorted(history, key=lambda pair: pair[0])]
    return ActionResult(ok=True, summary=f"{params.target()}: {len(output)} revision(s)", output=output)


class NotifyParams(_common.Params):
    """``notify``: a message to record on the incident."""

    message: str


async def notify(ctx: ActionContext, params: NotifyParams) -> ActionResult:
    """Output: the message (chat delivery is the pipeline's business)."""
    return ActionResult(ok=True, summary=params.message, output=params.message)
