"""Rules: which events start which playbooks, as users write them in ``rules.yaml``.

Fed by: :mod:`aiops.rules.loader` (the rules file). Consumed by: :mod:`aiops.rules.engine`, which
compiles a :class:`RuleSet` once and matches events against it.

Shape (every model rejects unknown fields)::

    rules:
      - name: crash-looping pods              # unique
        match:
          types: [crash_loop]                 # required, non-empty
          namespaces: ["*"]                   # fnmatch globs; default ["*"]
          exclude_namespaces: [kube-system]   # default []
          kinds: [Deployment]                 # subject kinds; default: any
          labels: {matchLabels: {app: web}}   # a Kubernetes LabelSelector; default: any
          min_severity: warning               # default info
          sources: [kubernetes]               # default both
        playbooks: [crash_loop_remediation]   # non-empty
        cooldown_seconds: 600                 # default 0

Label selectors follow the Kubernetes ``LabelSelector`` (meta/v1): ``matchLabels`` and
``matchExpressions`` are ANDed; ``In``/``NotIn`` need non-empty ``values``, ``Exists``/
``DoesNotExist`` must have none.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiops.events.model import EventSource, EventType, Severity
from aiops.yamlsource import located_error

__all__ = ["LabelRequirement", "LabelSelector", "Match", "Operator", "Rule", "RuleSet"]


class Operator(StrEnum):
    """A label selector operator (Kubernetes ``LabelSelectorRequirement.operator``)."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelRequirement(BaseModel):
    """``{key, operator, values}``: one ``matchExpressions`` entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    operator: Operator
    values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelRequirement:
        needs_values = self.operator in (Operator.IN, Operator.NOT_IN)
        if needs_values and not self.values:
            raise located_error(f"operator {self.operator.value} needs a non-empty values list", "values")
        if not needs_values and self.values:
            raise located_error(f"operator {self.operator.value} takes no values", "values")
        return self


class LabelSelector(BaseModel):
    """A Kubernetes LabelSelector; the empty selector matches every label set."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)

    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: tuple[LabelRequirement, ...] = Field(default=(), alias="matchExpressions")


class Match(BaseModel):
    """The conditions an event must meet, all ANDed (see :mod:`aiops.rules.engine` for semantics)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    types: tuple[EventType, ...] = Field(min_length=1)
    namespaces: tuple[str, ...] = Field(default=("*",), min_length=1)
    exclude_namespaces: tuple[str, ...] = ()
    kinds: tuple[str, ...] | None = Field(default=None, min_length=1)
    labels: LabelSelector | None = None
    min_severity: Severity = Severity.INFO
    sources: tuple[EventSource, ...] = Field(
        default=(EventSource.KUBERNETES, EventSource.ALERTMANAGER), min_length=1
    )


class Rule(BaseModel):
    """Route matching events to ``playbooks`` (in order), at most once per ``cooldown_seconds``.

    The cooldown is kept per rule and per incident subject by the pipeline (see
    :func:`aiops.rules.engine.cooldown_key`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    match: Match
    playbooks: tuple[str, ...] = Field(min_length=1)
    cooldown_seconds: int = Field(default=0, ge=0)

    @field_validator("playbooks")
    @classmethod
    def _no_repeats(cls, playbooks: tuple[str, ...]) -> tuple[str, ...]:
        for index, playbook in enumerate(playbooks):
            if playbook in playbooks[:index]:
                raise located_error(f"playbook {playbook!r} is listed twice", index)
        return playbooks


class RuleSet(BaseModel):
    """The whole rules file: ``rules`` in priority order (the first rule to route a playbook wins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        first: dict[str, int] = {}
        for index, rule in enumerate(rules):
            if rule.name in first:
                raise located_error(
                    f"duplicate rule name {rule.name!r} (also rule {first[rule.name]})", index, "name"
                )
            first[rule.name] = index
        return rules
