"""Label and field selectors as the Kubernetes API server evaluates them (emulator internals).

Fed by: the emulator's list/watch handlers (``labelSelector``/``fieldSelector`` query strings), its
eviction handler and Scale subresource (``metav1.LabelSelector`` objects). Pure functions.

Rules, from "Labels and Selectors" (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/),
"Field Selectors" (https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/) and
the LabelSelector definition in the API reference
(https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/label-selector/):

* ``a=b``/``a==b`` need the label with that value; ``a!=b`` and ``a notin (x,y)`` also match when
  the label is absent; ``a in (x,y)`` needs one of the values; ``a`` needs the key; ``!a`` its absence.
* A selector's requirements are ANDed; the empty selector matches everything.
* A ``LabelSelector`` object that is null matches nothing; an empty one (``{}``) matches everything.
* Field selectors support ``=``, ``==`` and ``!=`` on a per-resource set of fields; any other field
  is rejected with 400 "field label not supported". A missing field compares as ``""``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class SelectorError(ValueError):
    """A selector that does not parse (the API answers 400 BadRequest)."""


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``key`` ``op`` ``values``; op is one of in, notin, exists, !, gt, lt."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfies this requirement (labels.Requirement.Matches)."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present or value is None or not re.fullmatch(r"-?\d+", value):
            return False
        bound = int(self.values[0])
        return int(value) > bound if self.op == "gt" else int(value) < bound

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op == "in" and len(self.values) == 1:
            return f"{self.key}={self.values[0]}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        return f"{self.key}{'>' if self.op == 'gt' else '<'}{self.values[0]}"


Selector = tuple[Requirement, ...]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ_RE = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_CMP_RE = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>[<>])\s*(?P<value>-?\d+)$")
_KEY_RE = re.compile(rf"^(?P<neg>!?)\s*(?P<key>{_KEY})$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``( ... )``."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_label_selector(text: str | None) -> Selector:
    """Parse a ``labelSelector`` query string; ``""``/``None`` is the everything-selector.

    Raises :class:`SelectorError` on a malformed requirement.
    """
    if not text or not text.strip():
        return ()
    requirements: list[Requirement] = []
    for raw in _split_top_level(text):
        part = raw.strip()
        if m := _SET_RE.match(part):
            values = tuple(v.strip() for v in m["values"].split(","))
            if not any(values):
                raise SelectorError(f"unable to parse requirement: {part!r}: values set can't be empty")
            requirements.append(Requirement(m["key"], m["op"], values))
        elif m := _EQ_RE.match(part):
            op = "notin" if m["op"] == "!=" else "in"
            requirements.append(Requirement(m["key"], op, (m["value"],)))
        elif m := _CMP_RE.match(part):
            requirements.append(Requirement(m["key"], "gt" if m["op"] == ">" else "lt", (m["value"],)))
        elif m := _KEY_RE.match(part):
            requirements.append(Requirement(m["key"], "!" if m["neg"] else "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {part!r}")
    return tuple(requirements)


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector | None:
    """Convert a ``metav1.LabelSelector`` object; ``None`` (matches nothing) stays ``None``.

    ``matchLabels`` become equality requirements, ``matchExpressions`` use In, NotIn, Exists and
    DoesNotExist. Raises :class:`SelectorError` on an unknown operator.
    """
    if selector is None:
        return None
    requirements = [Requirement(k, "in", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise SelectorError(f"{expr.get('operator')!r} is not a valid label selector operator")
        requirements.append(Requirement(expr["key"], op, tuple(str(v) for v in expr.get("values") or ())))
    return tuple(sorted(requirements, key=lambda r: r.key))


def labels_match(selector: Selector | None, labels: Mapping[str, str] | None) -> bool:
    """Whether every requirement holds for ``labels``; a ``None`` selector matches nothing."""
    if selector is None:
        return False
    return all(req.matches(labels or {}) for req in selector)


def format_selector(selector: Selector | None) -> str:
    """The string form the API uses, e.g. in a Scale's ``status.selector``: ``app=web,tier in (a,b)``."""
    return ",".join(str(req) for req in selector or ())


#: Field labels each resource supports beyond ``metadata.name``/``metadata.namespace``
#: (the API server's per-resource field label conversion functions).
FIELD_LABELS: dict[str, frozenset[str]] = {
    "pods": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "events": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "reportingComponent",
            "reportingController",
            "source",
            "type",
        }
    ),
    "nodes": frozenset({"spec.unschedulable"}),
    "namespaces": frozenset({"status.phase"}),
    "replicasets": frozenset({"status.replicas"}),
    "jobs": frozenset({"status.successful"}),
}

FieldSelector = tuple[tuple[str, bool, str], ...]


def parse_field_selector(text: str | None, plural: str) -> FieldSelector:
    """Parse ``fieldSelector`` into ``(field, equal, value)`` triples for resource ``plural``.

    Raises :class:`SelectorError` for a malformed term or a field the resource does not support.
    """
    if not text or not text.strip():
        return ()
    allowed = FIELD_LABELS.get(plural, frozenset()) | {"metadata.name", "metadata.namespace"}
    terms: list[tuple[str, bool, str]] = []
    for raw in text.split(","):
        m = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*", raw)
        if m is None:
            raise SelectorError(f"invalid selector: {raw!r}; can't understand {raw!r}")
        field, op, value = m.groups()
        if field not in allowed:
            raise SelectorError(f"field label not supported: {field}")
        terms.append((field, op != "!=", value))
    return tuple(terms)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string value of a dotted field; ``""`` when absent, booleans as ``true``/``false``."""
    if path == "source" and isinstance(obj.get("source"), Mapping):
        return str(obj["source"].get("component", ""))
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return "false" if path == "spec.unschedulable" else ""
        node = node[part]
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


def fields_match(selector: FieldSelector, obj: Mapping[str, Any]) -> bool:
    """Whether every field term holds for ``obj``."""
    return all((field_value(obj, field) == value) == equal for field, equal, value in selector)
