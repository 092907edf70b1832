"""The two controllers a write's verification waits for, emulated just enough (emulator support).

Fed by: the demo and tests, which run :func:`running_controllers` next to the emulator. Consumed
by: nothing; they write to the emulator like kube-controller-manager writes to the API server.

kmock's emulator stores objects but runs no controllers, so nothing would ever replace a deleted
pod or finish a rollout, and every verification would time out. These do the part of
kube-controller-manager's work that aiops' expectations observe:

* ReplicaSet controller (https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/):
  a pod owned by a ReplicaSet that disappears (deleted or evicted) is replaced by a new pod with
  the same labels and ownerReferences, a new name and uid, not yet scheduled (no ``nodeName``),
  Ready, or, with ``healthy=False``, crash-looping (waiting in CrashLoopBackOff with a climbing
  restartCount, as a pod whose fault the restart did not fix).
* Deployment controller (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/):
  when ``metadata.generation`` is ahead of ``status.observedGeneration`` (the template or replicas
  changed), the rollout completes: observedGeneration catches up and replicas = updated = ready =
  available = ``spec.replicas``. With ``healthy=False`` rollouts never complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

from aiops.emulator.emulator import ClusterEmulator, random_suffix


def _owned_by_replicaset(pod: dict[str, Any]) -> bool:
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("kind") == "ReplicaSet" and r.get("controller") for r in refs)


class EmulatedControllers:
    """One pass of both controllers per :meth:`tick`; ``replaced`` lists replacement pod names."""

    def __init__(self, emulator: ClusterEmulator, *, healthy: bool = True) -> None:
        self._emu = emulator
        self._healthy = healthy
        self._known: dict[tuple[str, str], dict[str, Any]] = {}
        self._restarts = 0
        self.replaced: list[str] = []
        self._track()

    def _track(self) -> None:
        for pod in self._emu.list_objects("v1", "Pod"):
            if _owned_by_replicaset(pod):
                meta = pod["metadata"]
                self._known[(meta["namespace"], meta["name"])] = pod

    def tick(self) -> None:
        """Replace vanished ReplicaSet pods; complete pending Deployment rollouts."""
        self._track()
        for (namespace, name), old in list(self._known.items()):
            if self._emu.get_object("v1", "Pod", namespace, name) is None:
                del self._known[(namespace, name)]
                self._replace(old)
        self._restarts += 1
        if not self._healthy:
            self._crash_replacements()
            return
        for deploy in self._emu.list_objects("apps/v1", "Deployment"):
            meta, status = deploy["metadata"], deploy.get("status") or {}
            generation = int(meta.get("generation") or 1)
            if int(status.get("observedGeneration") or 0) >= generation:
                continue
            replicas = int((deploy.get("spec") or {}).get("replicas", 1))
            deploy["status"] = {
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            }
            self._emu.put_object(deploy)

    def _replace(self, old: dict[str, Any]) -> None:
        meta = old["metadata"]
        base = meta.get("generateName") or meta["name"].rsplit("-", 1)[0] + "-"
        new = copy.deepcopy(old)
        new["metadata"] = {
            "name": f"{base}{random_suffix()}",
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": copy.deepcopy(meta.get("ownerReferences") or []),
        }
        new.setdefault("spec", {}).pop("nodeName", None)
        new["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        self._emu.put_object(new)
        self.replaced.append(new["metadata"]["name"])

    def _crash_replacements(self) -> None:
        for pod in self._emu.list_objects("v1", "Pod"):
            if pod["metadata"]["name"] not in self.replaced:
                continue
            containers = (pod.get("spec") or {}).get("containers") or [{"name": "app"}]
            pod["status"] = {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {
                        "name": c.get("name", "app"),
                        "ready": False,
                        "restartCount": self._restarts,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                    for c in containers
                ],
            }
            self._emu.put_object(pod)


@contextlib.asynccontextmanager
async def running_controllers(
    emulator: ClusterEmulator, *, healthy: bool = True, interval_seconds: float = 0.05
) -> AsyncIterator[EmulatedControllers]:
    """Run :class:`EmulatedControllers` every ``interval_seconds`` until the block ends."""
    controllers = EmulatedControllers(emulator, healthy=healthy)

    async def loop() -> None:
        while True:
            controllers.tick()
            await asyncio.sleep(interval_seconds)

    task = asyncio.create_task(loop(), name="emulated-controllers")
    try:
        yield controllers
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
