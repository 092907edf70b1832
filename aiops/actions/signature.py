"""A step's params against its action's signature, before anything runs.

Fed by: :mod:`aiops.playbooks.loader` (loading playbooks at start-up, ``Playbook`` resources, and
``aiops playbooks validate``) with a step's action name and its params as written. Consumed by:
the loader, which locates each :class:`ParamProblem` at ``file:line: steps.N.params.NAME``.

The signature is the action's pydantic params model (:func:`aiops.actions.registry.params_model`):
its fields are the params a step may give and those without a default are required. Checked:

* every param name is a field of the model (``unknown param 'tail' for action 'logs'``);
* every required field is given (``missing required param 'pod'``); a literal that is blank
  counts as missing, because the renderer omits blank values (docs/playbooks.md, Templates);
* every *literal* value (one without template syntax) validates as the model would validate it at
  run time, field by field (``tail_lines: lots`` → ``Input should be a valid integer``); when
  no value is a template, the model's own cross-field rules run too (``give exactly one of pod
  or selector``).

A value holding a template is only known once rendered, so its type is checked at run time by the
same model (the step then fails with the reason).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from aiops.actions import registry

__all__ = ["ParamProblem", "check_params"]


@dataclass(frozen=True)
class ParamProblem:
    """One problem with a step's params. ``loc`` is the place below ``params``: ``("pod",)`` for a
    param, ``()`` for the params as a whole (a missing param, a cross-field rule)."""

    loc: tuple[str | int, ...]
    message: str


def check_params(
    action: str, params: Mapping[str, Any], *, deferred: Callable[[Any], bool]
) -> list[ParamProblem]:
    """Every problem of ``params`` (as written in the playbook) for catalog action ``action``.

    ``deferred(value)`` tells whether a value holds a template (its type is then checked at run
    time only). Unknown actions give no problem here: the playbook model reports them.
    """
    model = registry.params_model(action)
    if model is None:
        return []
    fields = model.model_fields
    problems: list[ParamProblem] = []
    known = ", ".join(fields)
    for name in params:
        if name not in fields:
            problems.append(
                ParamProblem((name,), f"unknown param {name!r} for action {action!r}; its params: {known}")
            )
    literal = {
        name: value
        for name, value in params.items()
        if name in fields and not deferred(value) and not (isinstance(value, str) and not value.strip())
    }
    for name, field in fields.items():
        if not field.is_required():
            continue
        if name not in params:
            problems.append(ParamProblem((), f"missing required param {name!r} for action {action!r}"))
        elif isinstance(params[name], str) and not params[name].strip():
            problems.append(
                ParamProblem(
                    (name,),
                    f"required param {name!r} is blank: a blank value is omitted, so it would be missing",
                )
            )
    every_literal = len(literal) == len(params) and not problems
    try:
        model.model_validate(literal)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if error["type"] == "missing":
                continue  # given as a template (checked when rendered) or reported above
            if loc and loc[0] in literal:
                problems.append(ParamProblem(loc, _message(error["msg"])))
            elif not loc and every_literal:
                problems.append(ParamProblem((), _message(error["msg"])))
    return problems


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")
