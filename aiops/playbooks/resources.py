"""Playbook custom resources (``aiops.dev/v1alpha1`` ``Playbook``): the live registry and their status.

Fed by: the kopf operator's Playbook watch handler (``aiops.operator``), which calls
:meth:`LivePlaybooks.apply` (in a worker thread) for every added or modified resource and
:meth:`LivePlaybooks.remove` for a deleted one, then writes the returned status through the
:data:`StatusWriter` that :func:`status_writer` builds. Consumes: the playbook loader
(``aiops.playbooks.loader.playbook_from_resource``: validation, templates trial-rendered), the
registry (``aiops.playbooks.registry``), the status and Event shapes (``aiops.playbooks.status``)
and the Kubernetes API door (``aiops.kube.Kube.patch`` on the ``status`` subresource,
``Kube.create`` of core/v1 Events). Consumed by: the executor (``LivePlaybooks.current``), the
pipeline (``LivePlaybooks.routes``) and the enricher (the playbook ids).

A Playbook resource applies to events about objects in its own namespace (never to
cluster-scoped subjects such as Nodes), routed by its ``triggers``: ``kubectl apply`` of a
resource is a team's explicit, namespaced intent; cluster-wide routing stays in the rules file.
Its status is written on aiops' own object only, never on a user's workload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiops import errors
from aiops import kube as kube_mod
from aiops.clock import Clock, utcnow
from aiops.events.model import ClusterEvent
from aiops.playbooks import loader as playbook_loader
from aiops.playbooks import registry as registry_mod
from aiops.playbooks import status as status_mod
from aiops.rules.engine import RuleMatch

log = logging.getLogger(__name__)

#: Cooldown of a Playbook custom resource's routing, per subject (seconds): as the default rules.
RESOURCE_COOLDOWN_SECONDS = 900

#: Writes the ``status`` of a Playbook custom resource: (body, desired status) → None.
StatusWriter = Callable[[Mapping[str, Any], dict[str, Any]], Awaitable[None]]


class LivePlaybooks:
    """The current playbook registry: file playbooks plus valid ``Playbook`` custom resources.

    A Playbook resource applies to events about objects in its own namespace (never to
    cluster-scoped subjects such as Nodes), routed by its ``triggers``. A resource that fails
    validation is ignored (it never replaces a working playbook) and its problems are reported
    on its ``status``. ``clock`` stamps the conditions' ``lastTransitionTime``.
    """

    def __init__(self, registry: registry_mod.PlaybookRegistry, *, clock: Clock = utcnow) -> None:
        self._registry = registry
        self._clock = clock
        self._namespaces: dict[str, str] = {}  # resource playbook id -> its namespace
        self._lock = threading.Lock()  # apply() runs in worker threads

    def current(self) -> registry_mod.PlaybookRegistry:
        """The registry as of now (an immutable snapshot)."""
        return self._registry

    def apply(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Add or replace the playbook of a Playbook resource; returns the status to report.

        The status is :func:`aiops.playbooks.status.resource_status`'s: ``accepted``,
        ``playbookId``, ``steps``, ``highestRisk``, ``problems``, ``observedGeneration`` and the
        ``Ready``/``Invalid`` conditions (their ``lastTransitionTime`` kept from the body's status
        while unchanged, so an unchanged outcome gives an equal status). Validation (templates
        trial-rendered under their budget) may take a moment: the operator calls this in a worker
        thread, so the registry swap is under a lock. Never raises for an invalid resource: its
        problems are the status.
        """
        metadata = body.get("metadata") or {}
        generation = metadata.get("generation")
        previous = body.get("status") if isinstance(body.get("status"), Mapping) else None

        def refused(problems: list[str]) -> dict[str, Any]:
            return status_mod.resource_status(
                previous, generation=generation, playbook=None, problems=problems, now=self._clock()
            )

        try:
            playbook = playbook_loader.playbook_from_resource(body)
            with self._lock:
                self._registry = self._registry.with_resource(playbook)
        except errors.ValidationFailed as exc:
            log.error("ignoring invalid Playbook resource: %s", exc)
            return refused([str(p) for p in exc.problems])
        except errors.ConfigError as exc:
            log.error("ignoring Playbook resource: %s", exc)
            return refused([str(exc)])
        with self._lock:
            self._namespaces[playbook.id] = str(metadata.get("namespace") or "")
        log.info("playbook %s loaded from %s", playbook.id, playbook.source)
        return status_mod.resource_status(
            previous, generation=generation, playbook=playbook, problems=(), now=self._clock()
        )

    def remove(self, body: Mapping[str, Any]) -> None:
        """Forget the playbook defined by a deleted Playbook custom resource (by its id and source,
        as :func:`aiops.playbooks.loader.playbook_from_resource` derives them; nothing is validated)."""
        playbook_id, source = playbook_loader.resource_identity(body)
        with self._lock:
            before = self._registry
            self._registry = self._registry.without(playbook_id, source=source)
            if self._registry is not before:
                self._namespaces.pop(playbook_id, None)

    def routes(self, event: ClusterEvent) -> list[RuleMatch]:
        """Resource playbooks whose triggers include the event type, for subjects in their namespace."""
        namespace = event.subject.namespace
        if namespace is None:
            return []
        matches: list[RuleMatch] = []
        for playbook_id, home in list(self._namespaces.items()):
            if home != namespace or not self._registry.is_resource(playbook_id):
                continue
            playbook = self._registry.get(playbook_id)
            if event.type in playbook.triggers:
                matches.append(RuleMatch(playbook.source, playbook.id, RESOURCE_COOLDOWN_SECONDS))
        return matches


def status_writer(kube: kube_mod.Kube, *, clock: Clock = utcnow) -> StatusWriter:
    """A :data:`StatusWriter` that merge-patches the ``status`` subresource of a Playbook resource
    (aiops' own object, never a user's) and, when the status refuses it, creates one core/v1
    ``Warning`` Event per problem (:func:`aiops.playbooks.status.problem_events`, shown by
    ``kubectl describe playbook``). The operator calls it only when the status changed, so a
    refusal is reported once. The writer raises what :meth:`aiops.kube.Kube.patch` raises (an
    :class:`aiops.kube.ApiError`; the operator logs it and carries on); an Event that cannot be
    created is logged and skipped (the status already carries the problem)."""

    async def write(body: Mapping[str, Any], status: dict[str, Any]) -> None:
        meta = body.get("metadata") or {}
        await kube.patch(
            str(body.get("apiVersion", "aiops.dev/v1alpha1")),
            "Playbook",
            meta.get("namespace"),
            str(meta.get("name")),
            {"status": status},
            patch_type="merge",
            subresource="status",
        )
        if status.get("accepted"):
            return
        for event in status_mod.problem_events(body, status.get("problems") or [], now=clock()):
            try:
                await kube.create("v1", "Event", event["metadata"]["namespace"], event)
            except errors.AiopsError as exc:
                where = f"{meta.get('namespace')}/{meta.get('name')}"
                log.warning("could not record an Event for Playbook %s: %s", where, exc)
                break

    return write
