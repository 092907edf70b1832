"""The effective configuration, loaded once: settings (environment + YAML file), playbooks, rules,
the alert mapping and the parsed action limits.

Fed by: the environment and the YAML settings file (``aiops run --config FILE`` or ``AIOPS_CONFIG``).
Consumed by: ``aiops run`` (which hands the result to ``aiops.runtime.build``) and ``aiops config
check``: one loader, so the check can never pass a configuration that ``run`` refuses, or the other
way round. Nothing here touches Redis or the Kubernetes API.

Every problem is collected and raised together as :class:`aiops.errors.ValidationFailed`, each
naming where the value came from: the environment variable (``environment: AIOPS_KUBE__NAMESPACES:
...``) or the settings file, line and key (``/etc/aiops/config.yaml:12: actions.max_memory_limit:
...``); rules, playbooks and the alert mapping file name their own file, line and field. Values of
secret settings (tokens, passwords, the Redis URL) are never repeated in a message.
"""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import NoDecode, SettingsError

from aiops import errors, yamlsource
from aiops import kube as kube_mod
from aiops.actions import quantity
from aiops.chat import setup as chat_setup
from aiops.enrichment import redact as redact_mod
from aiops.playbooks import loader as playbook_loader
from aiops.playbooks import registry as registry_mod
from aiops.rules import engine as engine_mod
from aiops.rules import loader as rules_loader
from aiops.settings import Settings, env_aliases
from aiops.settings import load as load_settings_model
from aiops.sources.alertmanager import config as alert_config
from aiops.sources.alertmanager import mapping as alert_mapping

#: The ``file`` of a problem whose value came from an environment variable.
ENVIRONMENT = "environment"
#: Environment prefix and nesting delimiter of :class:`aiops.settings.Settings`.
ENV_PREFIX, ENV_DELIMITER = "AIOPS_", "__"
#: The variables that may hold ``redis_url``, in precedence order (its ``validation_alias``).
REDIS_URL_VARIABLES = env_aliases("redis_url")
#: Every other name a top-level setting is read under (``REDIS_URL``, the downward API's
#: ``POD_NAMESPACE``, ...), from the settings model's aliases.
UNPREFIXED_VARIABLES = tuple(v for name in Settings.model_fields for v in env_aliases(name))
#: Setting names whose values are secrets: never echoed in a problem.
_SECRET_PARTS = frozenset({"token", "tokens", "password", "api_key", "redis_url", *REDIS_URL_VARIABLES})


@dataclass(frozen=True)
class Config:
    """Everything ``aiops run`` builds its components from, validated.

    ``config_file`` is the settings file read (None: environment only); ``environment`` the names
    of the ``AIOPS_*``/``REDIS_URL`` variables that were set; ``max_memory_limit_bytes`` is
    ``settings.actions.max_memory_limit`` in bytes.
    """

    settings: Settings
    redactor: redact_mod.Redactor
    registry: registry_mod.PlaybookRegistry
    rules: engine_mod.RuleEngine
    alert_mapping: alert_mapping.AlertMapping
    max_memory_limit_bytes: int
    config_file: Path | None = None
    environment: tuple[str, ...] = field(default=())


def load(config_file: Path | str | None = None) -> Config:
    """The effective configuration, exactly as ``aiops run`` starts on it.

    ``config_file`` (else ``$AIOPS_CONFIG``, else none) must exist and hold one YAML mapping.
    Raises :class:`errors.ValidationFailed` listing every problem found.
    """
    path = _config_path(config_file)
    data: dict[str, Any] | None = None
    node: yaml.Node | None = None
    if path is not None:
        data, node = _read_file(path)
    sources = _Sources(_environment(), path, node)
    return from_settings(_settings(data, sources), sources=sources)


def _settings(file_data: dict[str, Any] | None, sources: _Sources) -> Settings:
    """:class:`Settings` from the environment over ``file_data``; ValidationFailed naming each bad
    environment variable or file line and key (all of them at once)."""
    problems = sources.undecodable()
    if not problems:
        try:
            return load_settings_model(file_data=file_data)
        except ValidationError as exc:
            problems = [sources.problem(detail) for detail in exc.errors()]
        except SettingsError as exc:  # an undecodable value the check above did not foresee
            problems = [errors.Problem(ENVIRONMENT, None, "", f"{exc}: {exc.__cause__}")]
    raise errors.ValidationFailed(problems)


def from_settings(settings: Settings, *, sources: _Sources | None = None) -> Config:
    """Load and check what ``settings`` name: the redaction patterns, the alert mapping file,
    playbooks, rules, the memory limit.

    ``sources`` locates a bad value (environment variable or file line); without it (settings built
    in code: the demo, tests) problems name the setting only. Raises :class:`errors.ValidationFailed`
    with every problem found (file, line and field).
    """
    problems: list[errors.Problem] = []
    sources = sources or _Sources({}, None, None)
    limit = 0
    try:
        limit = quantity.to_bytes(settings.actions.max_memory_limit)
    except ValueError as exc:
        problems.append(sources.at(("actions", "max_memory_limit"), f"{exc}; write e.g. 4Gi or 512Mi"))
    else:
        if limit <= 0:
            problems.append(
                sources.at(
                    ("actions", "max_memory_limit"),
                    f"{settings.actions.max_memory_limit!r} is not above zero: write the highest memory "
                    "limit patch_resources may set, e.g. 4Gi",
                )
            )
    redactor = redact_mod.Redactor()
    try:
        redactor = redact_mod.Redactor(settings.enrichment.redact_patterns)
    except errors.ConfigError as exc:
        problems.append(sources.at(("enrichment", "redact_patterns"), str(exc)))
    mapping = alert_mapping.DEFAULT
    try:
        mapping = alert_config.load_mapping(settings.alertmanager.mapping_file)
    except errors.ValidationFailed as exc:
        problems += exc.problems
    dirs: list[Path] = [registry_mod.builtin_playbook_dir()] if settings.include_builtin_playbooks else []
    dirs.extend(settings.playbook_dirs)
    try:
        registry = registry_mod.PlaybookRegistry(playbook_loader.load_playbooks(dirs))
        ruleset = rules_loader.load_rules(settings.rules_file or rules_loader.default_rules_path(), registry)
    except errors.ValidationFailed as exc:
        raise errors.ValidationFailed(problems + exc.problems) from exc
    if problems:
        raise errors.ValidationFailed(problems)
    return Config(
        settings=settings,
        redactor=redactor,
        registry=registry,
        rules=engine_mod.RuleEngine(ruleset),
        alert_mapping=mapping,
        max_memory_limit_bytes=limit,
        config_file=sources.file,
        environment=sources.variables,
    )


def _config_path(config_file: Path | str | None) -> Path | None:
    if config_file is not None and str(config_file) != "":
        return Path(config_file)
    named = os.environ.get("AIOPS_CONFIG", "")
    return Path(named) if named else None


def _read_file(path: Path) -> tuple[dict[str, Any], yaml.Node]:
    """The settings file's mapping and its YAML node.

    Raises ValidationFailed when it is missing, empty, not one document or not a mapping."""
    if not path.exists():
        raise errors.ValidationFailed(
            [
                errors.Problem(
                    str(path),
                    None,
                    "",
                    "no such settings file (named by --config or AIOPS_CONFIG); without it every "
                    "setting would silently be its default: fix the path, or drop --config/AIOPS_CONFIG",
                )
            ]
        )
    if path.is_dir():
        raise errors.ValidationFailed(
            [errors.Problem(str(path), None, "", "is a directory: --config names the YAML settings file")]
        )
    documents = yamlsource.read_documents(path)
    problems = [p for d in documents for p in d.problems]
    if not documents:
        problems.append(
            errors.Problem(str(path), None, "", "the settings file is empty: write settings or drop --config")
        )
    elif len(documents) > 1:
        problems.append(
            errors.Problem(str(path), documents[1].line, "", "expected one YAML document, found several")
        )
    elif not isinstance(documents[0].data, dict):
        found = type(documents[0].data).__name__
        problems.append(
            errors.Problem(
                str(path), documents[0].line, "", f"expected a mapping of settings, found a {found}"
            )
        )
    if problems:
        raise errors.ValidationFailed(problems)
    data = documents[0].data
    assert isinstance(data, dict)
    return {str(k): v for k, v in data.items()}, documents[0].node


def _environment() -> dict[str, str]:
    """Lower-cased name → actual name of each variable the settings read (pydantic-settings ignores case)."""
    names = {name.lower(): name for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    names.pop("aiops_config", None)  # names the file, read by _config_path
    for variable in UNPREFIXED_VARIABLES:
        for name in os.environ:
            if name.lower() == variable.lower():
                names[name.lower()] = name
    return names


#: What to write instead, per pydantic error type.
_HINTS = {
    "int_parsing": "; write a whole number without exponent or decimals, e.g. 1048576",
    "int_from_float": "; write a whole number without exponent or decimals, e.g. 1048576",
    "float_parsing": "; write a number, e.g. 2.5",
    "bool_parsing": "; write true or false",
}


class _Sources:
    """Where a setting's value came from: an environment variable, or the settings file's line and key."""

    def __init__(self, environment: Mapping[str, str], file: Path | None, node: yaml.Node | None) -> None:
        self._env = dict(environment)
        self.file = file
        self._node = node

    @property
    def variables(self) -> tuple[str, ...]:
        """The names of the environment variables set (sorted)."""
        return tuple(sorted(self._env.values()))

    def at(self, loc: Sequence[str | int], message: str) -> errors.Problem:
        """A problem for the setting at ``loc`` (``("actions", "max_memory_limit")``) with ``message``."""
        keys = [str(part) for part in loc if isinstance(part, str)]
        if keys and keys[0] in (*REDIS_URL_VARIABLES, "redis_url"):
            loc = ("redis_url", *loc[1:])
            for variable in REDIS_URL_VARIABLES:
                if variable.lower() in self._env:
                    return errors.Problem(ENVIRONMENT, None, self._env[variable.lower()], message)
        for depth in range(len(loc), 0, -1):
            if not all(isinstance(part, str) for part in loc[:depth]):
                continue
            name = (ENV_PREFIX + ENV_DELIMITER.join(str(p) for p in loc[:depth])).lower()
            if name in self._env:
                below = ".".join(str(p) for p in loc[depth:])
                return errors.Problem(
                    ENVIRONMENT, None, self._env[name], f"{below}: {message}" if below else message
                )
        dotted = yamlsource.field_path(loc)
        prefix = (
            (ENV_PREFIX + ENV_DELIMITER.join(keys) + ENV_DELIMITER).lower() if keys else ENV_PREFIX.lower()
        )
        below_env = sorted(actual for name, actual in self._env.items() if name.startswith(prefix))
        if below_env:
            return errors.Problem(ENVIRONMENT, None, ", ".join(below_env), f"{dotted}: {message}")
        if self.file is not None and self._node is not None and _in_file(self._node, loc):
            return errors.Problem(str(self.file), yamlsource.line_at(self._node, loc), dotted, message)
        return errors.Problem("settings", None, dotted, message)

    def problem(self, detail: ErrorDetails) -> errors.Problem:
        """The located problem for one pydantic error of :class:`Settings`."""
        loc = tuple(detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = f"unknown setting {str(loc[-1])!r} (docs/configuration.md lists them all)"
        elif "input" in detail and not _SECRET_PARTS.intersection(str(p) for p in loc):
            shown = detail["input"]
            if isinstance(shown, str | int | float | bool) or shown is None:
                message = f"{message} (got {shown!r})"
        return self.at(loc, message + _HINTS.get(detail["type"], ""))

    def undecodable(self) -> list[errors.Problem]:
        """Environment values of list, mapping or section settings that are not JSON (pydantic-settings
        would raise one SettingsError naming only the section)."""
        problems: list[errors.Problem] = []
        for lower, actual in sorted(self._env.items()):
            field = _field_for(lower.removeprefix(ENV_PREFIX.lower()).split(ENV_DELIMITER))
            if field is None or any(isinstance(m, NoDecode) or m is NoDecode for m in field.metadata):
                continue  # unknown (reported by validation) or parsed by its own validator
            kind = _complex_kind(field.annotation)
            if kind is None:
                continue
            value = os.environ.get(actual, "")
            try:
                json.loads(value)
            except ValueError:
                problems.append(errors.Problem(ENVIRONMENT, None, actual, _not_json(actual, value, kind)))
        return problems


def _in_file(node: yaml.Node, loc: Sequence[str | int]) -> bool:
    """Whether the settings file holds at least the first key of ``loc``."""
    return (
        bool(loc)
        and isinstance(node, yaml.MappingNode)
        and any(isinstance(key, yaml.ScalarNode) and key.value == str(loc[0]) for key, _ in node.value)
    )


def _field_for(path: Sequence[str]) -> FieldInfo | None:
    """The :class:`Settings` field at ``path`` (lower-case names), or None if there is none. Its
    ``annotation`` is the type; its ``metadata`` holds ``NoDecode`` for a setting that parses its
    own environment text (``telegram.chat_ids`` takes ``-1001234,42``)."""
    model: type[BaseModel] = Settings
    found: FieldInfo | None = None
    for depth, name in enumerate(path):
        fields = {key.lower(): info for key, info in model.model_fields.items()}
        found = fields.get(name)
        if found is None:
            return None
        annotation = found.annotation
        if depth < len(path) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return None
            model = annotation
    return found


def _complex_kind(annotation: Any) -> str | None:
    """``"list"``, ``"mapping"`` or ``"section"`` for a setting the environment gives as JSON; else None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args:
        annotation = args[0]
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return "list"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return None


def _not_json(variable: str, value: str, kind: str) -> str:
    """Why ``value`` was refused and what to write instead (secrets are not repeated)."""
    secret = any(part in variable.lower() for part in ("token", "password", "api_key"))
    shown = "the value" if secret else repr(value)
    if kind == "list":
        items = [item.strip() for item in value.split(",") if item.strip()]
        example = json.dumps(items or ["prod-*"])
        return f"{shown} is not JSON; this setting is a list: write {variable}='{example}'"
    if kind == "mapping":
        return f'{shown} is not JSON; this setting is a mapping: write {variable}=\'{{"alice": "..."}}\''
    return f"{shown} is not JSON; this is a settings section: set one key with {variable}__KEY=value"


def describe(config: Config) -> list[str]:
    """Short lines saying what ``config`` will do: sources, Redis, Kubernetes, playbooks, rules, safety.

    Secrets are never shown (the Redis URL's password is masked, tokens are counted).
    """
    s = config.settings
    lines = [
        f"settings: {config.config_file or 'no settings file'}"
        + (f" + environment ({', '.join(config.environment)})" if config.environment else ""),
        f"redis: {masked_url(s.redis_url)} (prefix {s.redis_prefix!r})",
        f"kubernetes: {kube_mod.client_source(s.kube)}; "
        f"namespaces {s.kube.namespaces} minus {s.kube.exclude_namespaces}",
        f"playbooks: {len(config.registry.ids())} ({', '.join(sorted(config.registry.ids()))})",
        f"rules: {len(config.rules.ruleset.rules)}",
        f"api: {s.api.host}:{s.api.port}, {len(s.api.identities())} token(s)"
        + (", unauthenticated allowed" if s.api.allow_unauthenticated else ""),
        f"safety: dry_run={s.safety.dry_run} paused={s.safety.paused} "
        f"protected={s.safety.protected_namespaces} max_memory_limit={s.actions.max_memory_limit}"
        + (f" own namespace {s.pod_namespace!r} (protected too)" if s.pod_namespace else ""),
        chat_setup.chat_line(s),
    ]
    return lines


def warnings(config: Config) -> list[str]:
    """What starts but will not work as a first-time user expects, each with the setting to change.

    Never an error: ``aiops run`` starts, and some of these are deliberate (a cluster without
    Alertmanager). Shown by ``aiops config check`` and logged once by ``aiops run``.
    """
    s = config.settings
    found: list[str] = []
    if not s.api.identities() and not s.api.allow_unauthenticated:
        found.append(
            "no API token: every /api route (approvals, incidents, the CLI) answers 503; "
            'set AIOPS_API__TOKENS=\'{"alice": "<token>"}\' (api.tokens) so approvers can decide'
        )
    am = s.alertmanager
    if am.enabled and am.token is None and am.username is None and not am.allow_unauthenticated:
        found.append(
            "no Alertmanager credentials: the webhook answers 401 to every post; set "
            "AIOPS_ALERTMANAGER__TOKEN (alertmanager.token) and the same bearer token in "
            "Alertmanager's http_config, or AIOPS_ALERTMANAGER__ENABLED=false"
        )
    if s.safety.paused:
        found.append("safety.paused is true: every write is refused until it is false")
    elif s.safety.dry_run:
        found.append("safety.dry_run is true: every write is sent with dryRun=All and changes nothing")
    return found + chat_setup.chat_warnings(s)


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
