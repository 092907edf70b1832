"""The ``Playbook`` CustomResourceDefinition, generated from :class:`aiops.playbooks.model.Playbook`.

``deploy/crds/playbook.yaml`` is this module's output; ``test_playbook_resources`` checks the two
agree. Regenerate after changing the model::

    .venv/bin/python -m tests.playbooks.crd_schema > deploy/crds/playbook.yaml

The pydantic JSON schema becomes a Kubernetes *structural* schema: ``$ref`` inlined, titles,
defaults and model docstrings dropped, ``additionalProperties: false`` removed (the API server
prunes or, with strict field validation, rejects unknown fields), free-form ``params`` marked
``x-kubernetes-preserve-unknown-fields``, and ``id`` optional (it defaults to ``metadata.name``).
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from aiops.playbooks.model import Playbook

HEADER = """\
# The Playbook custom resource (aiops.dev/v1alpha1): a playbook defined in the cluster.
# spec is a playbook exactly as in playbooks/*.yaml (see docs/playbooks.md); spec.id defaults
# to metadata.name. Generated from aiops.playbooks.model by tests/playbooks/crd_schema.py:
#   .venv/bin/python -m tests.playbooks.crd_schema > deploy/crds/playbook.yaml
"""

ROOT_DESCRIPTION = "A playbook the aiops operator runs when a rule routes an event to it."
STATUS_DESCRIPTION = "Set by the operator: whether the playbook loaded, and its problems."


def spec_schema() -> dict[str, Any]:
    """The structural openAPIV3Schema of ``spec``."""
    schema = Playbook.model_json_schema()
    defs = schema.pop("$defs", {})
    spec: dict[str, Any] = _structural(schema, defs)
    spec["required"] = [name for name in spec["required"] if name != "id"]
    spec["description"] = "A playbook: triggers and ordered steps. See docs/playbooks.md."
    return spec


def _structural(node: Any, defs: dict[str, Any], *, keep_description: bool = False) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    branches = node.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
        # Optional[X] → X with nullable: true (structural schemas allow no anyOf at this level).
        (other,) = [b for b in branches if b != {"type": "null"}]
        merged = {**{k: v for k, v in node.items() if k != "anyOf"}, **other, "nullable": True}
        return _structural(merged, defs, keep_description=keep_description)
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**_structural(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs, keep_description="description" in node)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "default") or (key == "description" and not keep_description):
            continue
        if key == "additionalProperties":
            if value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
            continue
        if key == "properties":
            out[key] = {name: _structural(prop, defs, keep_description=True) for name, prop in value.items()}
        else:
            out[key] = _structural(value, defs)
    return out


def crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition body."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "playbooks.aiops.dev"},
        "spec": {
            "group": "aiops.dev",
            "scope": "Namespaced",
            "names": {
                "kind": "Playbook",
                "listKind": "PlaybookList",
                "plural": "playbooks",
                "singular": "playbook",
                "categories": ["aiops"],
            },
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Triggers", "type": "string", "jsonPath": ".spec.triggers"},
                        {
                            "name": "Description",
                            "type": "string",
                            "jsonPath": ".spec.description",
                            "priority": 1,
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": ROOT_DESCRIPTION,
                            "required": ["spec"],
                            "properties": {
                                "spec": spec_schema(),
                                "status": {
                                    "type": "object",
                                    "description": STATUS_DESCRIPTION,
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def render() -> str:
    """The file ``deploy/crds/playbook.yaml`` should contain."""
    return HEADER + yaml.safe_dump(crd(), sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())
