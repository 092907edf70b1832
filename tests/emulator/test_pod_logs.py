"""GET pods/NAME/log: text/plain from the log store, container/previous/tailLines.

https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#get-read-log-of-the-specified-pod
"""

from __future__ import annotations

import aiohttp

from aiops.emulator import ClusterEmulator
from tests.support.kube_fixtures import pod

POD = "/api/v1/namespaces/default/pods/web"


async def test_log_is_text_plain_with_tail_lines(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """The log is served as text/plain; tailLines keeps the last N lines."""
    emulator.put_object(pod("web"))
    emulator.set_pod_log("default", "web", "one\ntwo\nthree\n")
    resp = await http.get(f"{POD}/log")
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert await resp.text() == "one\ntwo\nthree\n"
    assert await (await http.get(f"{POD}/log", params={"tailLines": "2"})).text() == "two\nthree\n"


async def test_previous_log_and_its_absence(http: aiohttp.ClientSession, emulator: ClusterEmulator) -> None:
    """previous=true serves the terminated container's log; none answers 400 like the real API."""
    emulator.put_object(pod("web"))
    resp = await http.get(f"{POD}/log", params={"previous": "true"})
    assert resp.status == 400
    assert (await resp.json())["message"] == 'previous terminated container "app" in pod "web" not found'
    emulator.set_pod_log("default", "web", "OOMKilled\n", previous=True)
    assert await (await http.get(f"{POD}/log", params={"previous": "true"})).text() == "OOMKilled\n"


async def test_container_selection(http: aiohttp.ClientSession, emulator: ClusterEmulator) -> None:
    """With several containers the container parameter is required; unknown containers answer 400."""
    emulator.put_object(pod("web", containers=[{"name": "app"}, {"name": "proxy"}]))
    emulator.set_pod_log("default", "web", "proxy says hi\n", container="proxy")
    assert await (await http.get(f"{POD}/log", params={"container": "proxy"})).text() == "proxy says hi\n"
    missing = await http.get(f"{POD}/log")
    assert missing.status == 400
    assert (await missing.json())[
        "message"
    ] == "a container name must be specified for pod web, choose one of: [app proxy]"
    assert (await http.get(f"{POD}/log", params={"container": "nope"})).status == 400


async def test_log_of_a_missing_pod_is_404(http: aiohttp.ClientSession) -> None:
    """The pod must exist."""
    assert (await http.get(f"{POD}/log")).status == 404
