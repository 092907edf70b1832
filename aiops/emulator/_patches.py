"""The three patch formats of the Kubernetes API, applied to plain JSON objects (emulator internals).

Fed by: the emulator's PATCH handlers (objects, ``status`` and ``scale`` subresources). Pure functions.

Rules, from "API Concepts: Patch" (https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply)
and "Update API Objects in Place Using kubectl patch"
(https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/):

* ``application/merge-patch+json`` is RFC 7386: maps merge recursively, ``null`` deletes a key,
  lists are replaced whole.
* ``application/strategic-merge-patch+json`` is a merge patch, except that lists declared with a
  ``patchMergeKey`` in the API types (containers and env by ``name``, volumeMounts by ``mountPath``,
  container ports by ``containerPort``, conditions by ``type``, ...) merge item by item; an item with
  ``"$patch": "delete"`` removes the matching item; ``$setElementOrder``/``$retainKeys`` directives are
  accepted and ignored. Custom resources do not support it (415).
* ``application/json-patch+json`` is RFC 6902 (via the ``jsonpatch`` package); a malformed patch
  answers 400, an operation that cannot apply (a failed ``test``, a missing path) answers 422.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"

#: List fields that strategic merge patch merges by key (``patchMergeKey`` in the core/v1 and apps/v1
#: Go types). A tuple lists alternatives: the first key present in the items is used.
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "ports": ("containerPort", "port"),
    "conditions": ("type",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey",),
    "resourceClaims": ("name",),
}


class PatchError(ValueError):
    """A patch that cannot apply; ``status`` is 400 (malformed) or 422 (inapplicable)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new value and leaves ``target`` untouched."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch as described in the module docstring; returns a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, MERGE_KEYS[key])
        elif isinstance(value, list):
            result[key] = [_strip_directives(item) for item in value]
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    return copy.deepcopy(value)


def _merge_list(original: list[Any], patch: list[Any], keys: tuple[str, ...]) -> list[Any]:
    items = [*original, *patch]
    key = next((k for k in keys if any(isinstance(i, dict) and k in i for i in items)), None)
    if key is None or not all(isinstance(i, dict) and key in i for i in items):
        return [_strip_directives(item) for item in patch]  # not a keyed list after all: replace
    result = copy.deepcopy(original)
    for item in patch:
        index = next((n for n, old in enumerate(result) if old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def json_patch(target: Any, patch: Any) -> Any:
    """RFC 6902 JSON patch; raises :class:`PatchError` (400 malformed, 422 inapplicable)."""
    if not isinstance(patch, list):
        raise PatchError("json patch must be a list of operations", 400)
    try:
        ops = jsonpatch.JsonPatch(patch)
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException, TypeError) as exc:
        raise PatchError(f"invalid json patch: {exc}", 400) from exc
    try:
        return ops.apply(copy.deepcopy(target))
    except jsonpatch.InvalidJsonPatch as exc:
        raise PatchError(f"invalid json patch: {exc}", 400) from exc
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, IndexError) as exc:
        raise PatchError(str(exc) or type(exc).__name__, 422) from exc


def apply_patch(content_type: str, target: Any, patch: Any, *, custom_resource: bool) -> Any:
    """Apply ``patch`` of ``content_type`` to ``target``; raises :class:`PatchError` (400/415/422)."""
    if content_type == MERGE:
        if not isinstance(patch, dict):
            raise PatchError("merge patch must be a JSON object", 400)
        return merge_patch(target, patch)
    if content_type == STRATEGIC:
        if custom_resource:
            raise PatchError(
                "the body of the request was in an unknown format - accepted media types include: "
                f"{JSON}, {MERGE}, {APPLY}",
                415,
            )
        if not isinstance(patch, dict):
            raise PatchError("strategic merge patch must be a JSON object", 400)
        return strategic_merge_patch(target, patch)
    if content_type == JSON:
        return json_patch(target, patch)
    raise PatchError(
        f"the body of the request was in an unknown format - accepted media types include: {JSON}, {MERGE}"
        f"{'' if custom_resource else ', ' + STRATEGIC}",
        415,
    )
