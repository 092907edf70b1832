"""Offline validation of ``Playbook`` resources against the generated CRD, as the API server would.

Fed by: :func:`aiops.playbooks.crd.crd` (the schema) and Playbook resource bodies (YAML files or
dicts). Consumed by: ``tests/playbooks/test_crd.py`` and ``scripts/chart-check.sh`` step 7
(``python -m aiops.playbooks.crd_check FILE...``). Development tooling: it needs ``jsonschema``
and ``cel-python`` (the ``dev`` extra), imported only when called, never by the operator.

What the API server does on create/update of a custom resource (Kubernetes docs, "Validation" and
"Validation rules" under CustomResourceDefinitions), and how it is reproduced here:

* the openAPIV3Schema (OpenAPI v3.0 dialect) is converted to JSON Schema draft 4 (whose
  ``exclusiveMinimum`` is boolean, as in OpenAPI v3.0): ``nullable: true`` adds ``null`` to the
  type, ``x-kubernetes-int-or-string`` is ``integer`` or ``string``, an
  ``x-kubernetes-list-type: set`` has unique items; an unknown field is an
  error, as under ``kubectl apply``'s default strict field validation (``--validate=strict``);
  ``apiVersion``, ``kind`` and ``metadata`` are allowed at the root;
* every ``x-kubernetes-validations`` rule is evaluated with ``cel-python`` (``self`` bound to the
  node's value, its keys escaped as the API server exposes them: ``namespace`` is
  ``__namespace__``; a rule on an absent or null value is not evaluated, as the API server skips
  it). cel-python does not reserve every word cel-go does, so :func:`reserved_words_in_rules`
  checks that no rule names a reserved word unescaped.

:func:`structural_problems` checks the schema is *structural* (Kubernetes docs, "Specifying a
structural schema").
"""

from __future__ import annotations

import argparse
import copy
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from aiops.playbooks import crd as crd_mod

__all__ = [
    "json_schema",
    "main",
    "problems",
    "reserved_words_in_rules",
    "rule_problems",
    "schema",
    "structural_problems",
]

#: Keys a structural schema forbids inside allOf/anyOf/oneOf/not (Kubernetes docs, structural schema).
_JUNCTOR_FORBIDDEN = frozenset({"type", "description", "default", "additionalProperties", "nullable"})
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_INT_OR_STRING = "x-kubernetes-int-or-string"
_PRESERVE = "x-kubernetes-preserve-unknown-fields"


def schema() -> dict[str, Any]:
    """The generated CRD's ``openAPIV3Schema`` (of its single version)."""
    (version,) = crd_mod.crd()["spec"]["versions"]
    found: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return found


def json_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """``openapi`` (a structural OpenAPI v3.0 schema) as a JSON Schema draft 4 document with the API
    server's strict field validation: unknown properties refused unless preserved."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {
            k: convert(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"
        }
        if "properties" in node:
            out["properties"] = {name: convert(prop) for name, prop in node["properties"].items()}
            if not node.get("x-kubernetes-preserve-unknown-fields"):
                out["additionalProperties"] = False
        if node.get("x-kubernetes-list-type") == "set":
            out["uniqueItems"] = True
        if node.get("x-kubernetes-int-or-string"):
            out["type"] = ["integer", "string"]
        if node.get("nullable"):
            types = out.get("type")
            out["type"] = [*(types if isinstance(types, list) else [types]), "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        return out

    converted: dict[str, Any] = convert(copy.deepcopy(openapi))
    converted["properties"].update(
        {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
    )
    converted["$schema"] = "http://json-schema.org/draft-04/schema#"
    return converted


def _rules_at(node: dict[str, Any], value: Any, path: str) -> Iterator[tuple[str, dict[str, str], Any]]:
    """Every (path, rule, self) pair the API server would evaluate for ``value`` under ``node``."""
    if value is None:
        return
    for rule in node.get("x-kubernetes-validations") or []:
        yield path, rule, value
    if isinstance(value, dict):
        for name, prop in (node.get("properties") or {}).items():
            if name in value:
                yield from _rules_at(prop, value[name], f"{path}.{name}")
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            yield from _rules_at(node["items"], item, f"{path}[{index}]")


def _escaped(value: Any) -> Any:
    """``value`` with every object key as a validation rule names it (:func:`crd.cel_field`)."""
    if isinstance(value, dict):
        return {crd_mod.cel_field(key): _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


@functools.cache
def _program(rule: str) -> Any:
    """``rule`` compiled by cel-python (a ``celpy.Runner``); raises ``celpy.CELParseError``."""
    env = _environment()
    return env.program(env.compile(rule))


@functools.cache
def _environment() -> Any:
    import celpy  # dev tooling: cel-python

    return celpy.Environment()


def rule_problems(openapi: dict[str, Any], body: Any) -> list[str]:
    """The ``x-kubernetes-validations`` rules ``body`` breaks, as ``path: message``. A rule that does
    not compile or evaluate is reported too (``path: rule ...: error``)."""
    import celpy.adapter  # dev tooling: cel-python

    found: list[str] = []
    for path, rule, value in _rules_at(openapi, body, ""):
        try:
            result = _program(rule["rule"]).evaluate({"self": celpy.adapter.json_to_cel(_escaped(value))})
        except Exception as exc:  # any failure of a rule is a problem to report
            found.append(f"{path or '.'}: rule {rule['rule']!r}: {exc}")
            continue
        if isinstance(result, Exception):
            found.append(f"{path or '.'}: rule {rule['rule']!r}: {result}")
        elif not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            found.append(f"{path or '.'}: {rule.get('message', rule['rule'])}")
    return found


def reserved_words_in_rules(openapi: dict[str, Any]) -> list[str]:
    """Every rule in ``openapi`` that uses a CEL reserved word as a field (``self.x.namespace``):
    the API server's CEL (cel-go) refuses to compile it; it must be ``__namespace__``."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for rule in node.get("x-kubernetes-validations") or []:
                words = set(re.findall(r"\.\s*([A-Za-z_][A-Za-z0-9_]*)", rule["rule"]))
                found.extend(f"{rule['rule']}: .{word}" for word in sorted(words & crd_mod.CEL_RESERVED))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(openapi)
    return found


def problems(body: Any, openapi: dict[str, Any] | None = None) -> list[str]:
    """What the API server would refuse in Playbook resource ``body``: schema errors (``path:
    message``) then broken CEL rules. Empty when it would be stored."""
    import jsonschema  # dev tooling

    openapi = openapi if openapi is not None else schema()
    validator = jsonschema.Draft4Validator(json_schema(openapi))
    found = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '.'}: {error.message}"
        for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]
    return found + rule_problems(openapi, body)


def structural_problems(node: Any, path: str = "", *, in_junctor: bool = False) -> list[str]:
    """Why ``node`` is not a structural schema: a ``$ref``; a node without ``type`` (unless
    int-or-string or preserve-unknown-fields, or inside a junctor); a forbidden key inside a
    junctor; a property a junctor names that is not declared outside it. Empty when structural."""
    found: list[str] = []
    if not isinstance(node, dict):
        return [f"{path}: not a schema object"]
    if "$ref" in node:
        found.append(f"{path}: $ref")
    if in_junctor:
        found += [f"{path}: {key} inside a junctor" for key in sorted(_JUNCTOR_FORBIDDEN & set(node))]
    elif not (
        node.get("type")
        or node.get("x-kubernetes-int-or-string")
        or node.get("x-kubernetes-preserve-unknown-fields")
    ):
        found.append(f"{path}: no type")
    if node.get("type") == "object" and not (
        "properties" in node
        or "additionalProperties" in node
        or node.get("x-kubernetes-preserve-unknown-fields")
    ):
        found.append(f"{path}: an object without properties")
    for name, prop in (node.get("properties") or {}).items():
        found += structural_problems(prop, f"{path}.properties.{name}", in_junctor=in_junctor)
    if isinstance(node.get("items"), dict):
        found += structural_problems(node["items"], f"{path}.items", in_junctor=in_junctor)
    declared = set(node.get("properties") or {})
    for junctor in _JUNCTORS:
        branches = node.get(junctor)
        if branches is None:
            continue
        for index, branch in enumerate(branches if isinstance(branches, list) else [branches]):
            found += structural_problems(branch, f"{path}.{junctor}[{index}]", in_junctor=True)
            for name in set(branch.get("properties") or {}) - declared:
                found.append(f"{path}.{junctor}[{index}]: property {name} not declared outside")
    return found


def main(argv: list[str] | None = None) -> int:
    """``python -m aiops.playbooks.crd_check FILE...``: validate every ``Playbook`` document in the
    YAML files against the generated CRD; prints the problems, exits 1 if any."""
    parser = argparse.ArgumentParser(prog="python -m aiops.playbooks.crd_check", description=main.__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    openapi = schema()
    failed = checked = 0
    for file in args.files:
        for document in yaml.safe_load_all(file.read_text()):
            if not isinstance(document, dict) or document.get("kind") != "Playbook":
                continue
            checked += 1
            name = f"{file}: Playbook/{(document.get('metadata') or {}).get('name')}"
            found = problems(document, openapi)
            failed += bool(found)
            print(f"   {name}: " + ("ok" if not found else "refused"))
            for problem in found:
                print(f"     {problem}")
    print(f"   {checked} Playbook resource(s) checked, {failed} refused")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
