"""Sandboxed Jinja2 rendering of playbook step params.

Fed by: the executor, which renders a step's ``params`` with :func:`render_params` against
:func:`template_context` just before the step runs; :mod:`aiops.playbooks.model`, which calls
:func:`check_template` at load time so a broken template is a located load error.
Consumed by: the actions, whose pydantic params models validate (and coerce) the rendered values.

One bounded sandbox renders everything (:mod:`aiops.playbooks.sandbox`: Jinja2's
``ImmutableSandboxedEnvironment`` with no loader, autoescape off, plus limits on loops, sizes and
a render budget), with ``StrictUndefined`` (a missing value is an error, never ``""``). The
sandbox refuses underscore attributes (``''.__class__``) and mutating methods; the limits stop a
template from allocating gigabytes or looping for minutes. The executor renders with
:func:`render_params_async`, in a worker thread, so a render never blocks the event loop; the
budget keeps it to milliseconds. At load time :func:`check_template` refuses what is over the
limits whatever the data (``range(100000)``, ``center(150000000)``) and trial-renders the template
against a sample event under the same budget. Templates always render to strings; the action's
params model coerces ``"200"`` to ``200`` and ``"true"`` to ``True``.

Empty values: a mapping entry whose string renders to ``""`` or whitespace only is *omitted*, so
an optional param falls back to the action's default (``container: "{{ event.details.container |
default('') }}"``) and a required one is reported missing by the action's params model instead of
being sent as ``""``. Beware: ``default('')`` replaces only *undefined* values; a ``null`` renders
as ``"None"`` unless you write ``default('', true)``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError

from aiops import errors
from aiops.events.incident import Incident
from aiops.events.model import ClusterEvent, EventType, ObjectRef
from aiops.playbooks import sandbox, template_ast

__all__ = [
    "CONTEXT_NAMES",
    "MAX_RENDERED_CHARS",
    "TemplateError",
    "check_template",
    "is_template",
    "render_params",
    "render_params_async",
    "template_context",
]

#: The top-level names a template may use: ``event``, ``incident``, ``run`` (id, playbook_id) and
#: ``steps`` (each earlier step of the run by name: output, params, state, summary).
CONTEXT_NAMES = frozenset({"event", "incident", "run", "steps"})

#: Longest string a single template may produce (characters).
MAX_RENDERED_CHARS = sandbox.MAX_BUILT_CHARS


class TemplateError(errors.PermanentError):
    """A template failed to parse or render. ``path`` names the param (``params.namespace``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.detail = message


# The environments: stateless configuration plus a compile cache, not application state.
_ENV = sandbox.BoundedSandbox()
#: For the trial render at load time: a missing value renders empty, so more of the template runs.
_TRIAL_ENV = sandbox.BoundedSandbox(undefined=jinja2.ChainableUndefined)


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> jinja2.Template:
    return template_ast.compile_template(_ENV, source)


def is_template(value: Any) -> bool:
    """True when ``value`` (a string, or a list or mapping holding strings) contains template
    syntax (``{{``, ``{%`` or ``{#``): its value is then only known once rendered."""
    if isinstance(value, str):
        return any(marker in value for marker in ("{{", "{%", "{#"))
    if isinstance(value, Mapping):
        return any(is_template(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(is_template(item) for item in value)
    return False


def check_template(source: str) -> None:
    """Parse ``source``, check it only names :data:`CONTEXT_NAMES` at the top level and stays within
    the limits of :mod:`aiops.playbooks.sandbox`.

    Raises :class:`ValueError` with the reason (and line within the template when it has several)
    for a syntax error, an unknown top-level name such as ``evnt``, or a template over the limits:
    statically (``range(100000)``, ``center(150000000)``, ``recursive`` loops) or in a trial render
    against a sample event under the render budget.
    """
    if "{" not in source:
        return  # not a template: rendered as it is (see _render_string)
    if len(source) > sandbox.MAX_TEMPLATE_CHARS:
        raise ValueError(f"template longer than {sandbox.MAX_TEMPLATE_CHARS} characters")
    try:
        ast = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        where = f" (template line {exc.lineno})" if "\n" in source else ""
        raise ValueError(f"template syntax error: {exc.message}{where}") from exc
    problem = template_ast.static_problem(ast)
    if problem is not None:
        raise ValueError(f"template over the limits: {problem}")
    try:
        with sandbox.budget():
            unknown = sorted(jinja2.meta.find_undeclared_variables(ast) - CONTEXT_NAMES)
    except SecurityError as exc:
        raise ValueError(f"template over the limits: {exc.message}") from exc
    if unknown:
        allowed = ", ".join(sorted(CONTEXT_NAMES))
        raise ValueError(f"template uses unknown name(s) {', '.join(unknown)}; available: {allowed}")
    _trial_render(source)


def _trial_render(source: str) -> None:
    """Render against :func:`sample_context` under the budget; only going over a limit (or the
    sandbox) is an error here: any other failure depends on the data, and is the render's."""
    try:
        with sandbox.budget():
            template_ast.compile_template(_TRIAL_ENV, source).render(sample_context())
    except SecurityError as exc:
        raise ValueError(f"template over the limits: {exc.message}") from exc
    except RecursionError as exc:
        raise ValueError("template over the limits: its macros call themselves without end") from exc
    except Exception:  # user code boundary: a data-dependent failure is the render's, not the load's
        return


@functools.cache
def _sample_event() -> ClusterEvent:
    pod = ObjectRef(api_version="v1", kind="Pod", namespace="shop", name="web-7d4f9c6b8-x2k4p", uid="uid-1")
    owner = ObjectRef(api_version="apps/v1", kind="Deployment", namespace="shop", name="web")
    return ClusterEvent(
        type=EventType.CRASH_LOOP,
        resource=pod,
        owner=owner,
        reason="BackOff",
        message="Back-off restarting failed container app in pod web-7d4f9c6b8-x2k4p",
        labels={"app": "web"},
        details={"container": "app", "restart_count": 7, "max_replicas": 10, "current_replicas": 10},
    )


def sample_context() -> dict[str, Any]:
    """A plausible context for trial renders: a crash-looping pod of Deployment ``web`` in ``shop``."""
    context = template_context(_sample_event(), run={"id": "run-sample", "playbook_id": "sample"})
    return {**context, "incident": {"id": "inc-sample"}, "steps": {}}


def render_params(
    params: Mapping[str, Any], context: Mapping[str, Any], *, path: str = "params"
) -> dict[str, Any]:
    """Render every string in ``params`` (recursively through dicts and lists) against ``context``.

    ``context`` is ``{"event": ..., "incident": ...}`` (see :func:`template_context`). Non-strings
    are returned unchanged; mapping entries rendering to blank strings are omitted (see the
    module docstring). Raises :class:`TemplateError` naming the param path (``params.pod``,
    ``params.items.0``) for an undefined variable, a sandbox violation or any other render error.
    """
    rendered = _render(dict(params), context, path)
    assert isinstance(rendered, dict)
    return rendered


async def render_params_async(
    params: Mapping[str, Any], context: Mapping[str, Any], *, path: str = "params"
) -> dict[str, Any]:
    """:func:`render_params` in a worker thread (``asyncio.to_thread``): the event loop keeps
    serving ``/healthz``, the API and the watches while a template renders. The render budget
    (:mod:`aiops.playbooks.sandbox`) bounds how long the thread runs. Same result and errors."""
    return await asyncio.to_thread(render_params, params, context, path=path)


def template_context(
    event: ClusterEvent, incident: Incident | None = None, *, run: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{"event": ..., "incident": {...}, "run": {...}}`` for :func:`render_params`.

    ``event`` is :meth:`ClusterEvent.template_context`; ``incident`` the incident as JSON data
    without its embedded first/last events (use ``event``), or ``{}`` when there is none yet;
    ``run`` is whatever the executor passes (``{"id": ..., "playbook_id": ...}``), else ``{}``.
    """
    incident_data = (
        incident.model_dump(mode="json", exclude={"first_event", "last_event"}) if incident else {}
    )
    return {"event": event.template_context(), "incident": incident_data, "run": dict(run or {})}


def _render(value: Any, context: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, str):
        return _render_string(value, context, path)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            rendered = _render(item, context, f"{path}.{key}")
            if not (isinstance(rendered, str) and not rendered.strip()):
                out[key] = rendered
        return out
    if isinstance(value, list | tuple):
        return [_render(item, context, f"{path}.{index}") for index, item in enumerate(value)]
    return value


def _render_string(source: str, context: Mapping[str, Any], path: str) -> str:
    if "{" not in source:
        return source  # no template syntax: skip the compile
    try:
        with sandbox.budget():
            result = _compile(source).render(context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(path, f"undefined value: {exc.message}") from exc
    except SecurityError as exc:
        raise TemplateError(path, f"refused by the template sandbox: {exc.message}") from exc
    # User code boundary: any other failure of a user's template is that template's error.
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        raise TemplateError(path, f"{type(exc).__name__}: {exc}") from exc
    if len(result) > MAX_RENDERED_CHARS:
        raise TemplateError(path, f"rendered value longer than {MAX_RENDERED_CHARS} characters")
    return result
