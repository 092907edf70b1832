"""The one settings root: environment variables (prefix ``AIOPS_``, nested with ``__``) and a YAML file.

Fed by: the environment and, when ``AIOPS_CONFIG`` names one, a YAML file (environment wins).
Consumed by: ``cli.py`` and the app factory, which build every component from it and pass
the pieces down; no other module reads the environment. Every field is documented in
``docs/configuration.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KubeSettings(_Section):
    """How to reach the Kubernetes API and which namespaces aiops acts on.

    The operator watches cluster-wide; ``namespaces``/``exclude_namespaces`` (fnmatch globs)
    decide which events are processed: an event about an object in a namespace that matches none
    of the first or one of the second is counted as ``muted`` and starts nothing. ``server`` (a
    URL) overrides kubeconfig and in-cluster config (the demo and tests point it at the emulator).
    """

    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool | None = None
    server: str | None = None
    namespaces: list[str] = Field(default_factory=lambda: ["*"])
    exclude_namespaces: list[str] = Field(default_factory=list)


class ApprovalSettings(_Section):
    """The approval gate: TTL per risk (seconds) and allow-lists of approvers per risk.

    An empty allow-list lets any authenticated identity decide that risk.
    """

    ttl_seconds_medium: int = Field(900, ge=1, le=7 * 86400)
    ttl_seconds_high: int = Field(900, ge=1, le=7 * 86400)
    approvers_medium: list[str] = Field(default_factory=list)
    approvers_high: list[str] = Field(default_factory=list)
    sweep_interval_seconds: float = Field(5.0, gt=0, le=300)


class ApiSettings(_Section):
    """The HTTP API: bind address and the bearer tokens accepted by ``/api/*``.

    Each token stands for one identity, recorded as the approver (``tokens`` is identity →
    token, e.g. ``AIOPS_API__TOKENS='{"alice": "..."}'``; the single ``token`` stands for
    ``admin``). With no token configured, ``/api/*`` answers 503 unless
    ``allow_unauthenticated`` is set explicitly, in which case the identity is ``anonymous``.
    ``docs``: serve the OpenAPI description and its pages (``/api/openapi.json``, ``/api/docs``,
    ``/api/redoc``) without a token; off by default, so nothing under ``/api`` answers a
    stranger (a browser cannot send the bearer token those pages would need).
    """

    host: str = "0.0.0.0"
    port: int = Field(8080, ge=0, le=65535)
    token: SecretStr | None = None
    tokens: dict[str, SecretStr] = Field(default_factory=dict)
    allow_unauthenticated: bool = False
    docs: bool = False

    def identities(self) -> dict[str, str]:
        """Bearer token → approver identity. ``token`` maps to ``admin``; ``tokens`` is name → token."""
        mapping = {secret.get_secret_value(): name for name, secret in self.tokens.items()}
        if self.token is not None:
            mapping[self.token.get_secret_value()] = "admin"
        return mapping


class AlertmanagerSettings(_Section):
    """The Alertmanager webhook receiver (``POST /api/webhook/alertmanager``).

    Authentication is what Alertmanager's ``http_config`` can send: a bearer ``token``
    (``authorization: {credentials: ...}``) and/or ``basic_auth`` (``username``/``password``).
    With neither configured the receiver refuses every request (401) unless
    ``allow_unauthenticated`` is set explicitly. ``max_body_bytes`` bounds a payload (413 beyond).
    ``mapping_file``: YAML extending the built-in alert → event table (docs/alertmanager.md).
    ``idempotency_window_seconds``: how long a delivery's key is remembered (repeats within it
    are counted as duplicates, never re-processed). ``stream_maxlen``: most entries waiting in
    the intake stream; beyond it the receiver answers 503 (Alertmanager retries) instead of
    dropping anything.
    """

    enabled: bool = True
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    allow_unauthenticated: bool = False
    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    mapping_file: Path | None = None
    idempotency_window_seconds: int = Field(7 * 86400, ge=60)
    stream_maxlen: int = Field(100_000, ge=1000)


class LlmSettings(_Section):
    """An optional OpenAI-compatible endpoint for RCA (OpenAI, Azure OpenAI, Ollama, vLLM).

    Off unless ``base_url`` and ``model`` are set; the heuristic RCA always runs and is the
    fallback for every LLM failure. ``timeout_seconds`` bounds one request;
    ``max_output_tokens`` the answer; ``max_input_chars`` the prompt (evidence is trimmed,
    newest log lines kept). Logs are redacted before they are sent.
    """

    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    max_output_tokens: int = Field(800, ge=64, le=16_000)
    max_input_chars: int = Field(24_000, ge=2_000, le=400_000)


class EnrichmentSettings(_Section):
    """Incident enrichment (log findings and RCA). ``redact_patterns``: extra regexes whose
    matches are redacted from logs before anything is stored or sent."""

    enabled: bool = True
    redact_patterns: list[str] = Field(default_factory=list)


class ActionSettings(_Section):
    """Bounds on what actions may do.

    ``max_memory_limit``: a Kubernetes quantity; ``patch_resources`` never raises a memory limit
    above it. ``eviction_timeout_seconds``: how long drain keeps retrying evictions a
    PodDisruptionBudget blocks (429) before giving up.
    """

    max_memory_limit: str = "4Gi"
    eviction_retry_seconds: float = Field(1.0, gt=0)
    eviction_timeout_seconds: float = Field(120.0, gt=0)
    log_tail_lines: int = Field(200, ge=1, le=100_000)


class SafetySettings(_Section):
    """Blast-radius guards, dry-run and verification (docs/safety.md states each guarantee).

    * ``dry_run``: send every write with ``dryRun=All`` (the server validates and answers what it
      would store; nothing changes); a playbook may also set ``dry_run: true`` for itself.
    * ``paused``: refuse every write, everywhere. ``pause_annotation``: a namespace annotated
      with it set to ``"true"`` refuses every write in that namespace.
    * ``namespaces`` / ``exclude_namespaces``: where writes may happen (``*`` = all);
      ``protected_namespaces``: never written to (the operator's own namespace is added at start).
    * ``budget_per_namespace`` / ``budget_per_cluster``: writes per rolling ``budget_window_seconds``.
    * ``rate_limit_seconds``: one write-run per playbook and target in this time (default 4 hours,
      as Robusta and Alertmanager's ``repeat_interval``).
    * ``max_not_ready_node_share`` / ``ok_not_ready_nodes``: no disruptive action while more than
      this share of nodes is NotReady, unless at most ``ok_not_ready_nodes`` are (cluster-autoscaler:
      ``--max-total-unready-percentage=45``, ``--ok-total-unready-count``).
    * ``max_unavailable_workload_share`` / ``workload_min_pods``: no disruptive action on a
      workload of at least that many desired pods while more than this share is unavailable
      (medik8s NodeHealthCheck ``minHealthy``, applied to a workload's pods).
    * ``verify_settle_seconds`` / ``verify_timeout_seconds`` / ``verify_poll_seconds``: the
      default verification after a write (a step's ``verify`` overrides the first two).
    * ``max_replans``: how often a step whose target changed under its plan is planned and put up
      for approval again before the run gives up.
    """

    dry_run: bool = False
    paused: bool = False
    pause_annotation: str = "aiops.io/paused"
    namespaces: list[str] = Field(default_factory=lambda: ["*"])
    exclude_namespaces: list[str] = Field(default_factory=list)
    protected_namespaces: list[str] = Field(default_factory=lambda: ["kube-system"])
    budget_per_namespace: int = Field(5, ge=0)
    budget_per_cluster: int = Field(20, ge=0)
    budget_window_seconds: int = Field(3600, ge=1)
    rate_limit_seconds: int = Field(4 * 3600, ge=0)
    max_not_ready_node_share: float = Field(0.45, ge=0, le=1)
    ok_not_ready_nodes: int = Field(1, ge=0)
    max_unavailable_workload_share: float = Field(0.5, ge=0, le=1)
    workload_min_pods: int = Field(3, ge=1)
    verify_settle_seconds: float = Field(30.0, ge=0)
    verify_timeout_seconds: float = Field(300.0, gt=0)
    verify_poll_seconds: float = Field(5.0, gt=0)
    max_replans: int = Field(3, ge=0, le=20)


class RunSettings(_Section):
    """Playbook runs: how long a run may wait for approvals before it is expired (seconds)."""

    max_wait_seconds: int = Field(24 * 3600, ge=60)


class Settings(BaseSettings):
    """Root settings. Env: ``AIOPS_REDIS_URL`` or ``REDIS_URL``, ``AIOPS_API__TOKEN``, ...

    ``AIOPS_CONFIG`` names an optional YAML file with the same structure.
    ``rules_file`` defaults to the shipped rules. Playbooks load from the shipped built-ins
    (``playbooks/``, unless ``include_builtin_playbooks`` is false) plus ``playbook_dirs``.
    """

    model_config = SettingsConfigDict(
        env_prefix="AIOPS_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", validation_alias=AliasChoices("AIOPS_REDIS_URL", "REDIS_URL", "redis_url")
    )
    redis_prefix: str = "aiops:"
    rules_file: Path | None = None
    playbook_dirs: list[Path] = Field(default_factory=list)
    include_builtin_playbooks: bool = True
    watch_playbook_resources: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_json: bool = False
    kube: KubeSettings = Field(default_factory=KubeSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    actions: ActionSettings = Field(default_factory=ActionSettings)
    alertmanager: AlertmanagerSettings = Field(default_factory=AlertmanagerSettings)
    enrichment: EnrichmentSettings = Field(default_factory=EnrichmentSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    runs: RunSettings = Field(default_factory=RunSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: explicit arguments > environment > YAML file named by ``AIOPS_CONFIG``."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("AIOPS_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load(**overrides: Any) -> Settings:
    """Build settings from the environment and ``AIOPS_CONFIG``; raises pydantic ValidationError."""
    return Settings(**overrides)
