"""The ``Playbook`` CustomResourceDefinition (``aiops.dev/v1alpha1``), generated from the pydantic models.

Fed by: :class:`aiops.playbooks.model.Playbook` (the spec) and every action's params model
(:func:`aiops.actions.registry.params_model`). Consumed by: ``deploy/crds/playbook.yaml`` and its
byte-for-byte copy ``charts/aiops/crds/playbook.yaml`` (written by ``python -m aiops.playbooks.crd
--write``, checked by ``tests/playbooks/test_crd.py`` and ``scripts/chart-check.sh``) and
:mod:`aiops.playbooks.crd_check` (offline validation of Playbook resources).

The pydantic JSON schema becomes a Kubernetes *structural* schema (Kubernetes docs, "Specifying a
structural schema"): ``$ref`` inlined, titles and defaults dropped, ``Optional[X]`` as ``X`` with
``nullable: true``, ``exclusiveMinimum: N`` as ``minimum: N`` + ``exclusiveMinimum: true`` (OpenAPI
v3.0, the dialect of ``JSONSchemaProps``), ``additionalProperties: false`` dropped (the API
server prunes unknown fields, or rejects them under ``kubectl apply``'s default strict field
validation), and ``id`` optional (it defaults to ``metadata.name``).

Step ``params`` (a discriminated union on ``action``): a structural schema may not put types
inside ``oneOf``/``anyOf``, and every property a junctor names must also be declared outside
it, so a ``oneOf`` per action could only restate ``required`` lists, never "no other key". So:

* ``params`` is an object whose properties are the *union* of every action's params, each
  typed once (a name typed differently by two actions is a generation error). Strings are
  ``string``; integers are ``x-kubernetes-int-or-string`` (a Jinja template such as
  ``"{{ event.details.max_replicas * 2 }}"`` renders to the number at run time); booleans and
  non-integer numbers must be literal YAML values in a resource (``boolean``/``number``);
  optional params are ``nullable``. A key no action knows is pruned or, with strict field
  validation (``kubectl apply``'s default), refused.
* per action, ``x-kubernetes-validations`` CEL rules on the step (and on ``compensate``):
  ``self.action != 'X' || ...`` requires X's required params and refuses every param of the
  union that X does not take (``namespace``, a CEL reserved word, is ``__namespace__`` in a rule:
  :func:`cel_field`). Rules use ``has()`` only (no list iteration), so their estimated
  cost stays tiny; ``steps`` has ``maxItems`` (:data:`aiops.playbooks.model.MAX_STEPS`) so the
  per-CRD CEL cost estimate is bounded.
* a rule per write action keeps the declared ``risk`` at least the action's base risk, and a
  rule on ``steps`` keeps step names unique; ``triggers`` is an ``x-kubernetes-list-type: set``.

Values the loader still checks (they need Python: template syntax, DNS names, quantities,
cross-field rules such as "exactly one of pod or selector") are reported on the resource's
status (condition ``Invalid``) when the operator loads it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from aiops.actions import catalog, registry
from aiops.playbooks.model import Playbook

__all__ = [
    "CEL_RESERVED",
    "CRD_PATHS",
    "cel_field",
    "crd",
    "params_rules",
    "render",
    "spec_schema",
    "status_schema",
]

#: Where the generated CRD lives, relative to the repository root (the chart's copy is identical).
CRD_PATHS = (Path("deploy/crds/playbook.yaml"), Path("charts/aiops/crds/playbook.yaml"))

HEADER = """\
# The Playbook custom resource (aiops.dev/v1alpha1): a playbook defined in the cluster.
# spec is a playbook as in playbooks/*.yaml (see docs/playbooks.md); spec.id defaults to
# metadata.name. GENERATED from aiops.playbooks.model and the actions' params models; do not edit.
# Regenerate (both copies, deploy/crds and charts/aiops/crds):
#   PYTHONPATH=. .venv/bin/python -m aiops.playbooks.crd --write
"""

ROOT_DESCRIPTION = "A playbook the aiops operator runs for events in this namespace (see docs/playbooks.md)."
_CONDITION_TYPES = ("Ready", "Invalid")


def _structural(node: Any, defs: dict[str, Any], *, keep_description: bool = False) -> Any:
    """``node`` (a pydantic JSON schema fragment) as a structural OpenAPI v3.0 fragment."""
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    branches = node.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
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
        if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "properties":
            out[key] = {name: _structural(prop, defs, keep_description=True) for name, prop in value.items()}
        else:
            out[key] = _structural(value, defs)
    return out


def _param_type(action: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD type of one param: ``string``, int-or-string, ``number`` or ``boolean``, nullable
    when optional. Raises ``ValueError`` for a type a resource cannot express."""
    nullable = False
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        rest = [b for b in branches if b != {"type": "null"}]
        nullable = len(rest) < len(branches)
        if len(rest) != 1:
            raise ValueError(f"action {action!r} param {name!r}: a union the CRD cannot express")
        schema = rest[0]
    kind = schema.get("type")
    typed: dict[str, Any]
    if kind == "integer":
        typed = {"x-kubernetes-int-or-string": True}
    elif kind in ("string", "number", "boolean"):
        typed = {"type": kind}
    else:
        raise ValueError(f"action {action!r} param {name!r}: type {kind!r} is not supported in a resource")
    if nullable:
        typed["nullable"] = True
    return typed


def _signatures() -> dict[str, tuple[list[str], list[str]]]:
    """Per catalog action: (its param names, the required ones), in model order."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for action in sorted(catalog.CATALOG):
        model = registry.params_model(action)
        if model is None:
            raise ValueError(f"action {action!r} has no params model")
        fields = model.model_fields
        out[action] = (list(fields), [name for name, field in fields.items() if field.is_required()])
    return out


def params_schema() -> dict[str, Any]:
    """The ``params`` object: the union of every action's params, each typed once (nullable when
    one action takes it as optional: the per-action rules and the loader check the rest).

    Raises ``ValueError`` when two actions type a param name differently (the union would lie)."""
    properties: dict[str, dict[str, Any]] = {}
    used_by: dict[str, list[str]] = {}
    for action in sorted(catalog.CATALOG):
        model = registry.params_model(action)
        assert model is not None  # _signatures() checks every action has one
        for name, prop in model.model_json_schema()["properties"].items():
            typed = _param_type(action, name, prop)
            known = properties.get(name)
            if known is not None:
                nullable = any([known.pop("nullable", False), typed.pop("nullable", False)])
                if known != typed:
                    raise ValueError(
                        f"param {name!r} is {known} for {used_by[name]} but {typed} for {action!r}"
                    )
                if nullable:
                    typed["nullable"] = True
            properties[name] = typed
            used_by.setdefault(name, []).append(action)
    for name, prop in properties.items():
        prop["description"] = "Param of: " + ", ".join(used_by[name])
    return {
        "type": "object",
        "description": "The action's params (strings are Jinja2 templates over event, incident, run)",
        "properties": dict(sorted(properties.items())),
    }


#: CEL's reserved words; a property named exactly like one is reached as ``__word__`` in a rule
#: (Kubernetes docs, CustomResourceDefinitions, "Validation rules", escaping).
CEL_RESERVED = frozenset(
    "true false null in as break const continue else for function if import let loop package "  # noqa: SIM905
    "namespace return var void while".split()
)


def cel_field(name: str) -> str:
    """How a CRD validation rule names property ``name``: ``namespace`` → ``__namespace__``, ``__`` →
    ``__underscores__``, ``.`` → ``__dot__``, ``-`` → ``__dash__``, ``/`` → ``__slash__`` (Kubernetes
    docs, CustomResourceDefinitions, "Validation rules": escaping)."""
    if name in CEL_RESERVED:
        return f"__{name}__"
    escaped = name.replace("__", "__underscores__")
    return escaped.replace(".", "__dot__").replace("-", "__dash__").replace("/", "__slash__")


def params_rules() -> list[dict[str, str]]:
    """The CEL rules (``x-kubernetes-validations``) on a step or ``compensate`` block, per action:
    its required params present, no param of another action. ``self`` is the step."""
    union = sorted({name for names, _ in _signatures().values() for name in names})
    rules: list[dict[str, str]] = []
    for action, (names, required) in _signatures().items():
        if required:
            present = " && ".join(f"has(self.params.{cel_field(name)})" for name in required)
            rules.append(
                {
                    "rule": f"self.action != '{action}' || (has(self.params) && {present})",
                    "message": f"action {action} requires params: {', '.join(required)}",
                }
            )
        others = [name for name in union if name not in names]
        if others:
            absent = " && ".join(f"!has(self.params.{cel_field(name)})" for name in others)
            rules.append(
                {
                    "rule": f"self.action != '{action}' || !has(self.params) || ({absent})",
                    "message": f"action {action} takes only params: {', '.join(names)}",
                }
            )
    for risk in (catalog.Risk.MEDIUM, catalog.Risk.HIGH):
        actions = [info.name for info in catalog.CATALOG.values() if info.base_risk is risk]
        allowed = [r.value for r in catalog.Risk if catalog.risk_rank(r) >= catalog.risk_rank(risk)]
        listed = ", ".join(f"'{name}'" for name in sorted(actions))
        risks = ", ".join(repr(r) for r in allowed)
        rules.append(
            {
                "rule": f"!(self.action in [{listed}]) || self.risk in [{risks}]",
                "message": f"actions {', '.join(sorted(actions))} have base risk {risk.value}: "
                f"declare risk {' or '.join(allowed)}",
            }
        )
    return rules


def spec_schema() -> dict[str, Any]:
    """The structural openAPIV3Schema of ``spec``, with per-action params rules."""
    schema = Playbook.model_json_schema()
    defs = schema.pop("$defs", {})
    spec: dict[str, Any] = _structural(schema, defs)
    spec["required"] = [name for name in spec["required"] if name != "id"]
    spec["description"] = "A playbook: triggers and ordered steps. See docs/playbooks.md."
    triggers = spec["properties"]["triggers"]
    triggers["x-kubernetes-list-type"] = "set"
    steps = spec["properties"]["steps"]
    steps["x-kubernetes-validations"] = [
        {"rule": "self.all(s, self.exists_one(t, t.name == s.name))", "message": "step names must be unique"}
    ]
    step = steps["items"]
    step["properties"]["params"] = params_schema()
    step["x-kubernetes-validations"] = params_rules()
    compensate = step["properties"]["compensate"]
    compensate["properties"]["params"] = params_schema()
    compensate["x-kubernetes-validations"] = params_rules()
    return spec


def _condition_schema() -> dict[str, Any]:
    """A status condition as ``metav1.Condition`` spells it (Kubernetes API reference, Condition)."""
    return {
        "type": "object",
        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
        "properties": {
            "type": {"type": "string", "description": "Ready or Invalid"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "reason": {"type": "string", "maxLength": 1024},
            "message": {"type": "string", "maxLength": 32768},
        },
    }


def status_schema() -> dict[str, Any]:
    """``status``, written by the operator (aiops.playbooks.status)."""
    return {
        "type": "object",
        "description": "Set by the operator: whether the playbook loaded, and its problems.",
        "properties": {
            "accepted": {"type": "boolean", "description": "The playbook loaded"},
            "playbookId": {"type": "string", "nullable": True, "description": "The id rules and runs use"},
            "steps": {"type": "integer", "description": "How many steps the loaded playbook has"},
            "highestRisk": {
                "type": "string",
                "nullable": True,
                "enum": [r.value for r in catalog.Risk],
                "description": "The highest declared risk of its steps (and compensations)",
            },
            "problems": {"type": "array", "items": {"type": "string"}},
            "observedGeneration": {"type": "integer", "format": "int64", "nullable": True},
            "conditions": {
                "type": "array",
                "description": f"Conditions: {', '.join(_CONDITION_TYPES)}",
                "items": _condition_schema(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        },
    }


def _printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "ID", "type": "string", "jsonPath": ".status.playbookId"},
        {"name": "Triggers", "type": "string", "jsonPath": ".spec.triggers"},
        {"name": "Steps", "type": "integer", "jsonPath": ".status.steps"},
        {"name": "Risk", "type": "string", "jsonPath": ".status.highestRisk", "description": "Highest risk"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Description", "type": "string", "jsonPath": ".spec.description", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition body (``apiextensions.k8s.io/v1``)."""
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
                    "additionalPrinterColumns": _printer_columns(),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": ROOT_DESCRIPTION,
                            "required": ["spec"],
                            "properties": {"spec": spec_schema(), "status": status_schema()},
                        }
                    },
                }
            ],
        },
    }


def render() -> str:
    """The text of ``deploy/crds/playbook.yaml`` (and its chart copy)."""
    return HEADER + yaml.safe_dump(crd(), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    """``python -m aiops.playbooks.crd [--write] [--root DIR]``: print the CRD, or write both copies
    under the repository root ``DIR`` (default: the current directory)."""
    parser = argparse.ArgumentParser(prog="python -m aiops.playbooks.crd", description=main.__doc__)
    parser.add_argument("--write", action="store_true", help="write deploy/crds and charts/aiops/crds")
    parser.add_argument("--root", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    text = render()
    if not args.write:
        sys.stdout.write(text)
        return 0
    for path in CRD_PATHS:
        (args.root / path).write_text(text)
        print(f"wrote {args.root / path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
