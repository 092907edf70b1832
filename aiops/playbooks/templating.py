"""Sandboxed Jinja2 rendering of playbook step params.

Fed by: the executor, which renders a step's ``params`` with :func:`render_params` against
:func:`template_context` just before the step runs; :mod:`aiops.playbooks.model`, which calls
:func:`check_template` at load time so a broken template is a located load error.
Consumed by: the actions, whose pydantic params models validate (and coerce) the rendered values.

One :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` renders everything: no loader (no file
or include access), ``StrictUndefined`` (a missing value is an error, never ``""``), autoescape off
(the output is data, not HTML). The sandbox refuses underscore attributes (``''.__class__``) and
mutating methods; we additionally refuse ``**`` and cap ``*`` repetition so a template cannot
allocate gigabytes. Templates always render to strings; the action's params model coerces
``"200"`` to ``200`` and ``"true"`` to ``True``.

Empty values: a mapping entry whose string renders to ``""`` or whitespace only is *omitted*, so
an optional param falls back to the action's default (``container: "{{ event.details.container |
default('') }}"``) and a required one is reported missing by the action's params model instead of
being sent as ``""``. Beware: ``default('')`` replaces only *undefined* values; a ``null`` renders
as ``"None"`` unless you write ``default('', true)``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from typing import Any

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from aiops import errors
from aiops.events.incident import Incident
from aiops.events.model import ClusterEvent

__all__ = [
    "CONTEXT_NAMES",
    "MAX_RENDERED_CHARS",
    "TemplateError",
    "check_template",
    "is_template",
    "render_params",
    "template_context",
]

#: The top-level names a template may use: ``event``, ``incident``, ``run`` (id, playbook_id) and
#: ``steps`` (each earlier step of the run by name: output, params, state, summary).
CONTEXT_NAMES = frozenset({"event", "incident", "run", "steps"})

#: Longest string a single template may produce, and the largest ``*`` repetition it may build.
MAX_RENDERED_CHARS = 64 * 1024


class TemplateError(errors.PermanentError):
    """A template failed to parse or render. ``path`` names the param (``params.namespace``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.detail = message


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox plus arithmetic bounds: no ``**``, no ``*`` that builds a huge sequence."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            raise SecurityError("the ** operator is not allowed in playbook templates")
        for seq, times in ((left, right), (right, left)):
            repeats = isinstance(seq, str | list | tuple) and isinstance(times, int)
            if repeats and len(seq) * times > MAX_RENDERED_CHARS:
                raise SecurityError("repetition result too large")
        return operator.mul(left, right)


# The one environment: stateless configuration plus a compile cache, not application state.
_ENV = _Environment(undefined=jinja2.StrictUndefined, autoescape=False, loader=None)


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


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
    """Parse ``source`` and check it only names :data:`CONTEXT_NAMES` at the top level.

    Raises :class:`ValueError` with Jinja's message (and line within the template when it has
    several) for a syntax error or an unknown top-level name such as ``evnt``.
    """
    try:
        ast = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        where = f" (template line {exc.lineno})" if "\n" in source else ""
        raise ValueError(f"template syntax error: {exc.message}{where}") from exc
    unknown = sorted(jinja2.meta.find_undeclared_variables(ast) - CONTEXT_NAMES)
    if unknown:
        allowed = ", ".join(sorted(CONTEXT_NAMES))
        raise ValueError(f"template uses unknown name(s) {', '.join(unknown)}; available: {allowed}")


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
        result = _compile(source).render(context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(path, f"undefined value: {exc.message}") from exc
    except SecurityError as exc:
        raise TemplateError(path, f"refused by the template sandbox: {exc.message}") from exc
    # User code boundary: any other failure of a user's template is that template's error.
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateError(path, f"{type(exc).__name__}: {exc}") from exc
    if len(result) > MAX_RENDERED_CHARS:
        raise TemplateError(path, f"rendered value longer than {MAX_RENDERED_CHARS} characters")
    return result
