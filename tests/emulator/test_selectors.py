"""labelSelector and fieldSelector on list, as the API evaluates them.

https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors and
https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/
"""

from __future__ import annotations

import aiohttp
import pytest

from aiops.emulator import ClusterEmulator
from tests.support.kube_fixtures import event, pod

PODS = "/api/v1/pods"


@pytest.fixture
def pods(emulator: ClusterEmulator) -> None:
    emulator.put_object(pod("a", labels={"app": "web", "tier": "front"}, node="n1"))
    emulator.put_object(pod("b", labels={"app": "web", "tier": "back"}, node="n2", phase="Pending"))
    emulator.put_object(pod("c", "other", labels={"app": "db"}, node="n1"))
    emulator.put_object(pod("d", labels={}, node="n1"))


async def _names(http: aiohttp.ClientSession, path: str, **params: str) -> list[str]:
    resp = await http.get(path, params=params)
    assert resp.status == 200, await resp.text()
    return [item["metadata"]["name"] for item in (await resp.json())["items"]]


@pytest.mark.usefixtures("pods")
@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c", "d"]),  # != also matches pods without the label
        ("tier in (front, middle)", ["a"]),
        ("tier notin (front)", ["b", "c", "d"]),  # notin also matches pods without the label
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("app=web,tier=back", ["b"]),  # requirements are ANDed
        ("", ["a", "b", "d", "c"]),
    ],
)
async def test_label_selector_operators(
    http: aiohttp.ClientSession, selector: str, expected: list[str]
) -> None:
    """=, ==, !=, in, notin, exists and !exists, ANDed by commas."""
    assert sorted(await _names(http, PODS, labelSelector=selector)) == sorted(expected)


@pytest.mark.usefixtures("pods")
async def test_field_selectors_on_pods(http: aiohttp.ClientSession) -> None:
    """Pods support spec.nodeName and status.phase, with = and !=; plus metadata.name/namespace."""
    assert sorted(await _names(http, PODS, fieldSelector="spec.nodeName=n1")) == ["a", "c", "d"]
    assert await _names(http, PODS, fieldSelector="spec.nodeName=n1,metadata.namespace=other") == ["c"]
    assert await _names(http, PODS, fieldSelector="status.phase!=Running") == ["b"]
    assert await _names(http, "/api/v1/namespaces/default/pods", fieldSelector="metadata.name=d") == ["d"]


async def test_field_selectors_on_events_involved_object(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Events support involvedObject.kind/name/namespace/uid."""
    subject = emulator.put_object(pod("web-1"))
    other = emulator.put_object(pod("web-2"))
    emulator.put_object(event("e1", subject, reason="BackOff", message="restarting"))
    emulator.put_object(event("e2", other, reason="BackOff", message="restarting"))
    selector = (
        f"involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.uid={subject['metadata']['uid']}"
    )
    assert await _names(http, "/api/v1/namespaces/default/events", fieldSelector=selector) == ["e1"]


async def test_unsupported_field_or_malformed_selector_is_400(http: aiohttp.ClientSession) -> None:
    """A field the resource does not index, or an unparsable selector, answers 400 BadRequest."""
    resp = await http.get(PODS, params={"fieldSelector": "spec.containers=x"})
    assert resp.status == 400
    assert (await resp.json())["message"] == "field label not supported: spec.containers"
    assert (await http.get(PODS, params={"labelSelector": "app in web"})).status == 400
