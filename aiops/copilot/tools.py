"""The copilot's fixed registry of read-only tools, declared as data, and :func:`call`, its one door.

Fed by: the copilot's LLM loop (later) with a tool name and the model's JSON arguments, and the
chat commands. Consumes: :class:`aiops.kube.Kube` (GET and LIST only), the read actions of
:mod:`aiops.actions.reads` (describe, events, logs) and :class:`aiops.enrichment.scrub.Scrubber`.

Each :class:`Tool` has a name, a description, a pydantic params model (``extra="forbid"``) whose
JSON schema (``$ref`` inlined) is offered in the OpenAI tools format
(``{"type": "function", "function": {"name", "description", "parameters"}}``,
https://platform.openai.com/docs/guides/function-calling), and a coroutine that reads.

Rules enforced here, whatever the caller asks:

* no write tool and no generic request tool: the registry is :data:`TOOLS`, closed;
* kinds from the allow-list of :mod:`aiops.copilot.kinds` only (never Secrets, ServiceAccounts,
  tokens or ConfigMaps); names and namespaces checked by :mod:`aiops.kube.paths` (the Kubernetes
  naming rules, so ``../`` or ``/`` never reach a path); selectors limited to their syntax;
* every literal container ``env`` ``value`` is replaced (``valueFrom`` stays as a reference), then
  the whole result goes through the :class:`Scrubber`;
* each result is at most :data:`MAX_RESULT_BYTES` bytes of JSON text; longer ones are cut and say
  so with :data:`TRUNCATED` (logs keep their last bytes, objects their first);
* an unknown tool, JSON that is not an object, or invalid arguments give a refused
  :class:`ToolResult` (:class:`ToolRefused` inside), never an exception; API failures
  (404, 403...) give ``ok=False`` with the error, scrubbed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aiops import kube
from aiops.actions import reads
from aiops.actions._common import event_summary
from aiops.actions.base import ActionContext, AuditEntry
from aiops.copilot.kinds import KindInfo, KindRefused, resolve
from aiops.enrichment.scrub import ENV_VALUE, Scrubber

#: Largest tool result, in bytes of UTF-8 JSON text, marker included.
MAX_RESULT_BYTES = 16 * 1024
#: Most log lines a ``logs`` call may ask for (``tailLines``), and its default.
MAX_TAIL_LINES = 1000
DEFAULT_TAIL_LINES = 200
#: Most items a ``list`` call returns, and its default; most Events an ``events`` call returns.
MAX_LIST_ITEMS = 200
DEFAULT_LIST_ITEMS = 50
MAX_EVENTS = 100
#: Longest label or field selector accepted.
MAX_SELECTOR_CHARS = 512
#: The marker of a cut result: ``[TRUNCATED: ...]``.
TRUNCATED = "[TRUNCATED"

#: Label selector syntax ("Labels and Selectors": =, ==, !=, in, notin, exists, !key).
_LABEL_SELECTOR = re.compile(r"[A-Za-z0-9._/\-=!,() ]*")
#: Field selector syntax ("Field Selectors": =, ==, != joined by commas).
_FIELD_SELECTOR = re.compile(r"[A-Za-z0-9._\-=!,]*")


class ToolRefused(Exception):
    """A tool call refused before anything was read: unknown tool, bad JSON or invalid arguments."""

    def __init__(self, tool: str, reason: str) -> None:
        super().__init__(f"{tool}: {reason}")
        self.tool = tool
        self.reason = reason


@dataclass(frozen=True)
class ToolResult:
    """The answer to one tool call, as given back to the model.

    ``ok``: the read succeeded. ``refused``: the call was refused (``error`` says why) and nothing
    was read. ``content``: the log text (``logs``) or JSON text (the result, or ``{"error": ...}``),
    scrubbed, at most :data:`MAX_RESULT_BYTES` bytes. ``truncated``: the content was cut.
    """

    tool: str
    ok: bool
    content: str
    error: str | None = None
    refused: bool = False
    truncated: bool = False


# ---------------------------------------------------------------- params


def _checked(check: Callable[..., str], *args: str) -> str:
    """``check(*args)`` (a name check of :mod:`aiops.kube.paths`), its refusal as the ValueError
    pydantic reports for the field."""
    try:
        return check(*args)
    except kube.InvalidName as exc:
        raise ValueError(exc.reason) from exc


def _namespace(value: str | None) -> str | None:
    return None if value is None else _checked(kube.check_namespace, value)


def _kind(value: str) -> str:
    try:
        return resolve(value).kind
    except KindRefused as exc:
        raise ValueError(exc.reason) from exc


def _scoped(info: KindInfo, namespace: str | None, *, listing: bool = False) -> None:
    if not info.namespaced and namespace:
        raise ValueError(f"{info.kind} is cluster-scoped: give no namespace")
    if info.namespaced and not namespace and not listing:
        raise ValueError(f"{info.kind} is namespaced: give its namespace")


def _object_name(kind: str, name: str) -> str:
    return _checked(kube.check_name, kind, name)


class ToolParams(BaseModel):
    """Base of every tool's params: unknown keys are errors, no coercion of types."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ObjectParams(ToolParams):
    """One object: ``kind`` (allow-list), ``namespace`` (None for cluster-scoped kinds), ``name``."""

    kind: str = Field(description="Kind, plural or short name, e.g. Pod, deployments, sts.")
    namespace: str | None = Field(default=None, description="Namespace; omit for Nodes, Namespaces.")
    name: str = Field(description="The object's name.")

    _k = field_validator("kind")(_kind)
    _ns = field_validator("namespace")(_namespace)

    @model_validator(mode="after")
    def _checked(self) -> ObjectParams:
        _scoped(resolve(self.kind), self.namespace)
        _object_name(self.kind, self.name)
        return self


class GetParams(ObjectParams):
    """``get``: one object."""


class DescribeParams(ObjectParams):
    """``describe``: one object and the Events about it."""


class ListParams(ToolParams):
    """``list``: objects of ``kind`` in ``namespace`` (None: all namespaces), filtered by selectors."""

    kind: str = Field(description="Kind, plural or short name, e.g. pods, Deployment, pvc.")
    namespace: str | None = Field(default=None, description="Namespace; omit for all namespaces.")
    label_selector: str | None = Field(
        default=None, max_length=MAX_SELECTOR_CHARS, description="Label selector, e.g. app=web,tier!=db."
    )
    field_selector: str | None = Field(
        default=None,
        max_length=MAX_SELECTOR_CHARS,
        description="Field selector, e.g. status.phase=Running or spec.nodeName=worker-1.",
    )
    limit: int = Field(
        default=DEFAULT_LIST_ITEMS, ge=1, le=MAX_LIST_ITEMS, description="Most items returned."
    )

    _k = field_validator("kind")(_kind)
    _ns = field_validator("namespace")(_namespace)

    @field_validator("label_selector")
    @classmethod
    def _labels(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL_SELECTOR.fullmatch(value):
            raise ValueError("not a label selector (letters, digits, . _ / - = ! , ( ) and spaces)")
        return value

    @field_validator("field_selector")
    @classmethod
    def _fields(cls, value: str | None) -> str | None:
        if value is not None and not _FIELD_SELECTOR.fullmatch(value):
            raise ValueError("not a field selector (letters, digits, . _ - = ! and ,)")
        return value

    @model_validator(mode="after")
    def _checked(self) -> ListParams:
        _scoped(resolve(self.kind), self.namespace, listing=True)
        return self


class EventsParams(ToolParams):
    """``events``: the Events in ``namespace``, or only those about ``kind``/``name`` when given."""

    namespace: str = Field(description="Namespace of the Events.")
    kind: str | None = Field(default=None, description="Kind of the object the Events are about.")
    name: str | None = Field(default=None, description="Name of that object (with kind).")

    _ns = field_validator("namespace")(_namespace)

    @field_validator("kind")
    @classmethod
    def _k(cls, value: str | None) -> str | None:
        return None if value is None else _kind(value)

    @model_validator(mode="after")
    def _checked(self) -> EventsParams:
        if (self.kind is None) != (self.name is None):
            raise ValueError("give both kind and name, or neither")
        if self.kind is not None and self.name is not None:
            _object_name(self.kind, self.name)
        return self


class LogsParams(ToolParams):
    """``logs``: the last ``tail`` lines of a container's log; ``previous``: the last terminated one."""

    namespace: str = Field(description="The pod's namespace.")
    pod: str = Field(description="The pod's name.")
    container: str | None = Field(default=None, description="Container name; omit for a one-container pod.")
    previous: bool = Field(default=False, description="The previous (crashed) instance's log.")
    tail: int = Field(default=DEFAULT_TAIL_LINES, ge=1, le=MAX_TAIL_LINES, description="Lines from the end.")

    _ns = field_validator("namespace")(_namespace)

    @field_validator("pod")
    @classmethod
    def _pod(cls, value: str) -> str:
        return _object_name("Pod", value)

    @field_validator("container")
    @classmethod
    def _container(cls, value: str | None) -> str | None:
        return None if value is None else _checked(kube.check_container, value)


# ---------------------------------------------------------------- reads


class _NoWrites:
    """The audit sink of the copilot's read actions: a read never records a write, so any call is a bug."""

    async def record(self, entry: AuditEntry) -> None:
        raise RuntimeError(f"the copilot does not write ({entry.action} on {entry.target})")


def _context(client: kube.Kube) -> ActionContext:
    return ActionContext(kube=client, audit=_NoWrites())


def _lean(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without ``metadata.managedFields`` (field ownership, noise for a reader)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


async def _get(client: kube.Kube, params: GetParams) -> Any:
    info = resolve(params.kind)
    return _lean(await client.get(info.api_version, info.kind, params.namespace, params.name))


async def _list(client: kube.Kube, params: ListParams) -> Any:
    info = resolve(params.kind)
    items = await client.list(
        info.api_version,
        info.kind,
        params.namespace,
        label_selector=params.label_selector or None,
        field_selector=params.field_selector or None,
    )
    shown = [_lean(item) for item in items[: params.limit]]
    return {"kind": info.kind, "total": len(items), "returned": len(shown), "items": shown}


async def _describe(client: kube.Kube, params: DescribeParams) -> Any:
    info = resolve(params.kind)
    result = await reads.describe(
        _context(client),
        reads.DescribeParams(
            api_version=info.api_version, kind=info.kind, namespace=params.namespace, name=params.name
        ),
    )
    return result.output


async def _events(client: kube.Kube, params: EventsParams) -> Any:
    if params.kind is not None and params.name is not None:
        info = resolve(params.kind)
        result = await reads.events(
            _context(client),
            reads.EventsParams(
                kind=info.kind, name=params.name, namespace=params.namespace, api_version=info.api_version
            ),
        )
        found: list[dict[str, Any]] = result.output
    else:
        listed = sorted(await client.list("v1", "Event", params.namespace), key=kube.event_time)
        found = []
        for event in listed:
            involved = event.get("involvedObject") or {}
            found.append({"object": f"{involved.get('kind')}/{involved.get('name')}", **event_summary(event)})
    return {"total": len(found), "events": found[-MAX_EVENTS:]}


async def _logs(client: kube.Kube, params: LogsParams) -> Any:
    result = await reads.logs(
        _context(client),
        reads.LogsParams(
            namespace=params.namespace,
            pod=params.pod,
            container=params.container,
            previous=params.previous,
            tail_lines=params.tail,
        ),
    )
    return result.output


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class Tool:
    """A read-only tool: its ``name``, ``description`` (for the model), ``params`` model and ``read``
    coroutine (a :class:`aiops.kube.Kube` and validated params in, JSON-compatible data out).
    ``keep_tail``: when cut, keep the last bytes (logs) rather than the first."""

    name: str
    description: str
    params: type[ToolParams]
    read: Callable[[kube.Kube, Any], Awaitable[Any]]
    keep_tail: bool = False

    def schema(self) -> dict[str, Any]:
        """The tool in the OpenAI tools format, its parameters a JSON Schema with no ``$ref``."""
        parameters = inline_refs(self.params.model_json_schema())
        parameters.pop("title", None)
        parameters.pop("description", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }


TOOLS: Mapping[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "get",
            "Read one Kubernetes object (its spec and status) by kind, namespace and name.",
            GetParams,
            _get,
        ),
        Tool(
            "list",
            "List Kubernetes objects of a kind, in a namespace or all, filtered by label or field selector.",
            ListParams,
            _list,
        ),
        Tool(
            "describe",
            "Read one object and the Events about it (like kubectl describe).",
            DescribeParams,
            _describe,
        ),
        Tool(
            "events",
            "The Events of a namespace, oldest first, or only those about one object.",
            EventsParams,
            _events,
        ),
        Tool(
            "logs",
            "The last lines of a pod container's log; previous=true for the crashed instance.",
            LogsParams,
            _logs,
            keep_tail=True,
        ),
    )
}


def schemas() -> list[dict[str, Any]]:
    """Every tool in the OpenAI tools format (the ``tools`` field of a chat completion request)."""
    return [tool.schema() for tool in TOOLS.values()]


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every local ``{"$ref": "#/$defs/X"}`` replaced by the definition, ``$defs``
    dropped (some OpenAI-compatible servers do not follow references). Recursive models are not
    used by the tools; a reference to an unknown definition raises ``KeyError``."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                merged = {
                    **walk(defs[ref.removeprefix("#/$defs/")]),
                    **{k: v for k, v in node.items() if k != "$ref"},
                }
                return walk(merged)
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


# ---------------------------------------------------------------- the door


def redact_env(value: Any) -> Any:
    """A copy of ``value`` where each item of every ``env`` list (Container v1 ``env``: EnvVar) has
    its literal ``value`` replaced by :data:`aiops.enrichment.scrub.ENV_VALUE`; ``name`` and
    ``valueFrom`` (a reference to a Secret or ConfigMap key, never its content) are kept."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if key == "env" and isinstance(item, list):
                out[key] = [
                    {k: (ENV_VALUE if k == "value" else redact_env(v)) for k, v in var.items()}
                    if isinstance(var, dict)
                    else redact_env(var)
                    for var in item
                ]
            else:
                out[key] = redact_env(item)
        return out
    if isinstance(value, list):
        return [redact_env(item) for item in value]
    return value


def bound(text: str, *, max_bytes: int = MAX_RESULT_BYTES, keep_tail: bool = False) -> tuple[str, bool]:
    """``(text, False)`` when ``text`` is at most ``max_bytes`` UTF-8 bytes; else the first (or with
    ``keep_tail`` the last) bytes that fit with a ``[TRUNCATED: ...]`` marker, and True."""
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text, False
    which = "last" if keep_tail else "first"
    note = f"{TRUNCATED}: {len(raw)} bytes, showing the {which} {{kept}}]"
    room = max(0, max_bytes - len(note.format(kept=max_bytes).encode()) - 1)
    kept = raw[-room:] if keep_tail else raw[:room]
    body = kept.decode("utf-8", errors="ignore")
    marker = note.format(kept=len(body.encode()))
    return (f"{marker}\n{body}" if keep_tail else f"{body}\n{marker}"), True


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def validate(name: str, arguments: str | Mapping[str, Any]) -> tuple[Tool, ToolParams]:
    """The tool ``name`` and its validated params from ``arguments`` (JSON text or a mapping).

    Raises :class:`ToolRefused` for an unknown tool, text that is not a JSON object, or arguments
    the params model refuses (unknown keys, a refused kind, an invalid name, a bound exceeded)."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolRefused(name, f"unknown tool; the tools are {', '.join(TOOLS)}")
    if isinstance(arguments, str):
        try:
            decoded = json.loads(arguments or "{}")
        except ValueError as exc:
            raise ToolRefused(name, f"arguments are not JSON: {exc}") from exc
    else:
        decoded = dict(arguments)
    if not isinstance(decoded, dict):
        raise ToolRefused(name, "arguments must be a JSON object")
    try:
        return tool, tool.params.model_validate(decoded)
    except ValidationError as exc:
        raise ToolRefused(name, _reason(exc)) from exc


def _content(data: Any, scrubber: Scrubber, *, keep_tail: bool) -> tuple[str, bool]:
    cleaned = scrubber(redact_env(data))
    text = cleaned if isinstance(cleaned, str) else json.dumps(cleaned, ensure_ascii=False, default=str)
    return bound(text, keep_tail=keep_tail)


async def call(
    client: kube.Kube, name: str, arguments: str | Mapping[str, Any], *, scrubber: Scrubber | None = None
) -> ToolResult:
    """Validate ``arguments`` for tool ``name``, read, and return the redacted, bounded result.

    Never raises for a refused call (``refused=True``) nor for an API failure (``ok=False``, the
    error scrubbed); ``scrubber`` defaults to one with the built-in redaction rules."""
    scrubber = scrubber or Scrubber()
    try:
        tool, params = validate(name, arguments)
    except ToolRefused as refused:
        content = json.dumps({"error": f"refused: {refused.reason}"})
        return ToolResult(tool=name, ok=False, content=content, error=refused.reason, refused=True)
    try:
        data = await tool.read(client, params)
    except (kube.ApiError, kube.InvalidName) as exc:
        error = scrubber.text(str(exc))
        return ToolResult(tool=name, ok=False, content=json.dumps({"error": error}), error=error)
    text, truncated = _content(data, scrubber, keep_tail=tool.keep_tail)
    return ToolResult(tool=name, ok=True, content=text, truncated=truncated)
