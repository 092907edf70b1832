"""Hostile templates in ``Playbook`` resources, end to end through the running operator.

Anyone who may write a ``Playbook`` in a namespace writes code the operator runs. A template that
is over the limits whatever the data is refused on the resource's status (field named) and never
runs; one that only explodes on real data is accepted, then stopped by the render budget at its
step with the reason; the operator keeps answering ``/healthz`` throughout.
"""

from __future__ import annotations

from typing import Any

from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, step_of


def resource(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "aiops.dev/v1alpha1",
        "kind": "Playbook",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"triggers": ["crash_loop"], "steps": steps},
    }


def note(message: str) -> dict[str, Any]:
    return {"name": "note", "action": "notify", "risk": "low", "params": {"message": message}}


READ_LOG = {
    "name": "read",
    "action": "logs",
    "risk": "low",
    "on_failure": "continue",
    "params": {
        "namespace": "{{ event.resource.namespace }}",
        "pod": "{{ event.resource.name }}",
        "container": "app",
        "previous": True,
    },
}

#: Nothing to loop over in the load-time trial (no earlier steps); the real log has 110 characters,
#: so 1.3 million iterations: over the render budget.
DATA_BOMB = (
    "{% for a in steps.read.output %}{% for b in steps.read.output %}{% for c in steps.read.output %}"
    "{% endfor %}{% endfor %}{% endfor %}done"
)


def _status(harness: Harness, name: str) -> dict[str, Any]:
    stored = harness.emulator.get_object("aiops.dev/v1alpha1", "Playbook", "shop", name) or {}
    return dict(stored.get("status") or {})


async def _healthy(harness: Harness) -> bool:
    async with harness.api(None) as client:
        return (await client.get("/healthz")).status_code == 200


async def test_a_template_over_the_limits_is_refused_on_the_resource_status(harness: Harness) -> None:
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    emu.put_object(resource("wide", [note("{{ 'a'|center(150000000) }}")]))
    loops = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"
    emu.put_object(resource("loops", [note(loops)]))
    await harness.start()

    async def refused() -> bool:
        return all(_status(harness, name).get("accepted") is False for name in ("wide", "loops"))

    await eventually(refused, what="both hostile Playbook resources to be refused on their status")
    wide, loops_status = _status(harness, "wide"), _status(harness, "loops")
    assert wide["problems"] == [
        "Playbook/shop/wide: spec.steps.0.params.message: template over the limits: line 1: center size "
        "150000000 is over the limit of 65536"
    ]
    assert "range() of 100000 items is over the limit of 1000" in loops_status["problems"][0]
    assert await _healthy(harness)
    services = harness.services
    assert services is not None and not {"wide", "loops"} & set(services.playbooks.current().ids())


async def test_a_template_that_explodes_on_real_data_fails_its_step_with_the_reason(harness: Harness) -> None:
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    emu.put_object(resource("log-cubed", [READ_LOG, note(DATA_BOMB)]))
    await harness.start()

    async def accepted() -> bool:
        return _status(harness, "log-cubed").get("accepted") is True

    await eventually(accepted, what="the Playbook resource to be accepted (it is harmless on the sample)")
    workloads.seed_crash_loop(emu)

    async def ended() -> dict[str, Any] | None:
        for incident in await harness.get("/api/incidents"):
            for run in (await harness.get(f"/api/incidents/{incident['id']}"))["runs"]:
                if run["playbook_id"] == "log-cubed" and run["state"] not in ("running", "waiting_approval"):
                    return dict(run)
        return None

    async def done() -> bool:
        return await ended() is not None

    await eventually(done, what="the resource playbook's run to end")
    run = await ended()
    assert run is not None and run["state"] == "failed", run
    assert step_of(run, "logs")["state"] == "succeeded"
    step = step_of(run, "notify")
    assert step["state"] == "failed", step
    assert (
        "params.message: refused by the template sandbox: the template needs more than 20000 steps"
        in (step["error"])
    )
    assert await _healthy(harness)
