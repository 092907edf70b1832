"""Playbook and Step: the schema of a playbook as users write it (YAML file or ``Playbook`` resource).

Fed by: :mod:`aiops.playbooks.loader` (YAML documents and custom resource specs). Consumed by: the
registry, the rules loader (which checks ``triggers``), the executor (which runs ``steps`` in
order, rendering ``params`` with :mod:`aiops.playbooks.templating`) and the CRD schema in
``deploy/crds/playbook.yaml``, generated from :meth:`Playbook.model_json_schema` and the actions'
params models by :mod:`aiops.playbooks.crd`.

Validation at load time, so a broken playbook never reaches a cluster:

* ``action`` must be a key of :data:`aiops.actions.catalog.CATALOG`;
* ``risk`` must be at least the action's base risk (a write can never be declared ``low``);
* every string in ``params`` must be a syntactically valid template naming only ``event``, ``incident``
  and ``run``; params values must be JSON-like (string, number, boolean, null, list, mapping);
* step names are unique within a playbook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from aiops import errors
from aiops.actions import catalog
from aiops.events.model import EventType
from aiops.playbooks import templating
from aiops.yamlsource import located_error

__all__ = ["ID_PATTERN", "MAX_STEPS", "RESERVED_FIELDS", "OnFailure", "Playbook", "Step"]

#: The most steps a playbook may have (also the CRD's ``maxItems``, which bounds the API server's
#: CEL cost estimate of the per-step rules).
MAX_STEPS = 64

#: A playbook id: lowercase, digits, ``_`` and ``-``, 2 to 63 characters, not starting with a symbol.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,62}$"


class OnFailure(StrEnum):
    """What the run does when a step fails: ``abort`` the remaining steps, or ``continue``."""

    ABORT = "abort"
    CONTINUE = "continue"


def _check_param(value: Any) -> Any:
    """Validate one top-level param value: JSON-like, with every string a valid template."""
    problem = _param_problem(value, ())
    if problem is not None:
        below, message = problem
        raise located_error(message, *below)
    return value


def _param_problem(value: Any, below: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], str] | None:
    if isinstance(value, str):
        try:
            templating.check_template(value)
        except ValueError as exc:
            return below, str(exc)
        return None
    if value is None or isinstance(value, bool | int | float):
        return None
    items: list[tuple[str | int, Any]]
    if isinstance(value, list):
        items = list(enumerate(value))
    elif isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        items = list(value.items())
    else:
        kind = type(value).__name__
        return below, f"must be a string, number, boolean, null, list or mapping with string keys, not {kind}"
    for key, item in items:
        problem = _param_problem(item, (*below, key))
        if problem is not None:
            return problem
    return None


ParamValue = Annotated[Any, AfterValidator(_check_param)]

_ACTION_NAMES: list[JsonValue] = [*sorted(catalog.CATALOG)]


def _check_action(action: str) -> str:
    if action not in catalog.CATALOG:
        known = ", ".join(sorted(catalog.CATALOG))
        raise located_error(f"unknown action {action!r}; known actions: {known}")
    return action


def _check_risk(risk: catalog.Risk, info: ValidationInfo) -> catalog.Risk:
    action = catalog.CATALOG.get(info.data.get("action", ""))
    if action is not None and catalog.risk_rank(risk) < catalog.risk_rank(action.base_risk):
        why = " (it writes to the cluster)" if action.writes else ""
        raise located_error(
            f"risk {risk.value!r} is below the base risk of action {action.name!r}{why}; "
            f"declare {action.base_risk.value!r} or higher"
        )
    return risk


class Verify(BaseModel):
    """How a write step's outcome is checked afterwards (the plan says what to expect).

    ``enabled: false`` skips it. ``settle_seconds``: how long the expected state must hold without
    interruption; ``timeout_seconds``: when to give up and escalate. None: the defaults in
    ``safety`` settings (30 s and 300 s).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    settle_seconds: float | None = Field(default=None, ge=0, le=3600)
    timeout_seconds: float | None = Field(default=None, gt=0, le=7200)


class Compensation(BaseModel):
    """The step that undoes a write whose outcome was not verified (e.g. scale back down).

    It runs behind the approval gate like any write (its ``risk`` is at least its action's base
    risk). Its params may use ``steps.<step name>.output`` (e.g. ``{{ steps['scale up'].output.from }}``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(
        description="An action name from the catalog", json_schema_extra={"enum": _ACTION_NAMES}
    )
    risk: catalog.Risk = Field(description="Declared risk; at least the action's base risk")
    timeout_seconds: int = Field(default=60, ge=1, le=3600)
    params: dict[str, ParamValue] = Field(default_factory=dict, description="Jinja2-templated params")

    @field_validator("action")
    @classmethod
    def _known_action(cls, action: str) -> str:
        return _check_action(action)

    @field_validator("risk")
    @classmethod
    def _risk_at_least_base(cls, risk: catalog.Risk, info: ValidationInfo) -> catalog.Risk:
        return _check_risk(risk, info)


class Step(BaseModel):
    """One action of a playbook.

    ``params`` are passed to the action after rendering (strings are Jinja2 templates over
    ``event``, ``incident`` and ``run``). ``timeout_seconds`` bounds one run of the action (1..3600).
    ``risk`` routes the step: ``low`` runs at once, ``medium``/``high`` wait for approval.
    ``verify`` tunes the check of a write's outcome; ``compensate`` names the step that undoes
    the write when that check fails (run behind the gate).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="Unique within the playbook")
    action: str = Field(
        description="An action name from the catalog", json_schema_extra={"enum": _ACTION_NAMES}
    )
    risk: catalog.Risk = Field(description="Declared risk; at least the action's base risk")
    timeout_seconds: int = Field(default=60, ge=1, le=3600)
    on_failure: OnFailure = OnFailure.ABORT
    params: dict[str, ParamValue] = Field(default_factory=dict, description="Jinja2-templated params")
    verify: Verify = Field(default_factory=Verify)
    compensate: Compensation | None = None

    @field_validator("action")
    @classmethod
    def _known_action(cls, action: str) -> str:
        return _check_action(action)

    @field_validator("risk")
    @classmethod
    def _risk_at_least_base(cls, risk: catalog.Risk, info: ValidationInfo) -> catalog.Risk:
        return _check_risk(risk, info)


class Playbook(BaseModel):
    """A named, ordered list of steps and the event types it is meant for.

    ``triggers`` are the event types rules may route to this playbook. ``dry_run``: every write of
    this playbook goes out with ``dryRun=All`` (validated and answered, never stored).
    ``source`` (a file path or ``Playbook/<namespace>/<name>``), ``line`` (1-based line of the
    document, ``None`` for a resource) and ``home_namespace`` (a ``Playbook`` resource's own
    namespace, where alone its steps may act; ``None`` for a file playbook) are attached by the
    loader; they are not part of the YAML schema.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Referenced by rules", json_schema_extra={"pattern": ID_PATTERN})
    description: str = ""
    dry_run: bool = Field(default=False, description="Send every write with dryRun=All: nothing changes")
    triggers: tuple[EventType, ...] = Field(min_length=1, description="Event types this playbook accepts")
    steps: tuple[Step, ...] = Field(min_length=1, max_length=MAX_STEPS)
    source: SkipJsonSchema[str] = Field(default="<memory>", exclude=True)
    line: SkipJsonSchema[int | None] = Field(default=None, exclude=True)
    home_namespace: SkipJsonSchema[str | None] = Field(default=None, exclude=True)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, playbook_id: str) -> str:
        if not re.match(ID_PATTERN, playbook_id):
            raise located_error(
                f"invalid id {playbook_id!r}: use 2 to 63 characters of a-z, 0-9, '_' and '-', "
                "starting with a letter or digit"
            )
        return playbook_id

    @field_validator("triggers")
    @classmethod
    def _unique_triggers(cls, triggers: tuple[EventType, ...]) -> tuple[EventType, ...]:
        for index, trigger in enumerate(triggers):
            if trigger in triggers[:index]:
                raise located_error(f"trigger {trigger.value!r} is listed twice", index)
        return triggers

    @field_validator("steps")
    @classmethod
    def _unique_step_names(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        first: dict[str, int] = {}
        for index, step in enumerate(steps):
            if step.name in first:
                message = f"duplicate step name {step.name!r} (also step {first[step.name]})"
                raise located_error(message, index, "name")
            first[step.name] = index
        return steps

    def step(self, name: str) -> Step:
        """The step called ``name``; raises :class:`KeyError` if there is none."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def step_at(self, index: int, *, compensates: int | None = None, name: str = "") -> Step:
        """The step a run record stands for: ``steps[index]``, or, for a compensation record
        (``compensates``: the index of the step it undoes), a step called ``name`` built from that
        step's ``compensate`` block (verified like any write). Raises :class:`IndexError` for an
        index out of range and :class:`aiops.errors.ConfigError` when the undone step has no
        ``compensate`` block (the playbook changed under the run)."""
        if compensates is None:
            return self.steps[index]
        undo = self.steps[compensates].compensate
        if undo is None:
            raise errors.ConfigError(f"step {self.steps[compensates].name!r} has no compensate block")
        return Step(
            name=name,
            action=undo.action,
            risk=undo.risk,
            timeout_seconds=undo.timeout_seconds,
            params=undo.params,
            verify=Verify(enabled=True),
        )

    @property
    def location(self) -> str:
        """``source:line`` (or just ``source``) for messages."""
        return f"{self.source}:{self.line}" if self.line is not None else self.source


#: Field names the loader sets; a user document may not set them.
RESERVED_FIELDS = frozenset({"source", "line", "home_namespace"})
