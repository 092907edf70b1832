"""Log templates new since the last rollout: the enricher records each revision's templates and,
for an incident on a newer revision, lists what that revision's logs say that earlier ones never did."""

from __future__ import annotations

from aiops import kube as kube_mod
from aiops.emulator import ClusterEmulator
from aiops.enrichment import enricher as enricher_mod
from aiops.metrics import Metrics
from aiops.sources import kubewatch
from aiops.store import Store
from tests.operator import workloads
from tests.support import kube_fixtures as kf

OLD_LOG = "".join(f"request id={i} served in {i} ms\n" for i in range(20)) + "shutting down on SIGTERM\n"
NEW_LOG = OLD_LOG + "FATAL config key payments.url is not set\n"


def _crashing_pod(emu: ClusterEmulator, rs: dict[str, object], name: str, log: str) -> dict[str, object]:
    pod = emu.put_object(
        workloads.crashing(kf.pod(name, "shop", labels=rs["metadata"]["labels"], owner=rs), restarts=4)  # type: ignore[index]
    )
    emu.set_pod_log("shop", name, log, container="app", previous=True)
    return pod


async def test_an_incident_on_a_new_revision_lists_its_new_templates(
    emulator: ClusterEmulator, kube: kube_mod.Kube, store: Store
) -> None:
    emu = emulator
    deploy = emu.put_object(kf.deployment("web", "shop", replicas=1, revision=2))
    rs1 = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="5d9c7b8f6"))
    rs2 = emu.put_object(kf.replicaset(deploy, revision=2, image="app:2", hash_="7f8e6d5c4"))
    enricher = enricher_mod.Enricher(
        kube=kube, store=enricher_mod.EnrichmentStore(store), playbook_ids=lambda: [], metrics=Metrics()
    )

    old = _crashing_pod(emu, rs1, "web-5d9c7b8f6-aaaaa", OLD_LOG)
    (event,) = [e for e in kubewatch.detect(old) if e.type.value == "crash_loop"]
    first = await enricher.enrich("inc-1", event)
    assert first.revision == 1 and first.new_templates == []  # nothing earlier to compare with

    new = _crashing_pod(emu, rs2, "web-7f8e6d5c4-bbbbb", NEW_LOG)
    (event,) = [e for e in kubewatch.detect(new) if e.type.value == "crash_loop"]
    second = await enricher.enrich("inc-2", event)
    assert second.revision == 2
    assert len(second.new_templates) == 1 and "payments.url is not set" in second.new_templates[0]
    stored = await enricher_mod.EnrichmentStore(store).get("inc-2")
    assert stored is not None and stored.new_templates == second.new_templates
