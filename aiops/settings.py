"""The one settings root: environment variables (prefix ``AIOPS_``, nested with ``__``) and a YAML file.

Fed by: the environment and the parsed YAML settings file that :func:`load` is given (environment
wins). ``aiops.config`` reads that file (``aiops run --config``/``AIOPS_CONFIG``), calls :func:`load`
and turns every error into a located problem. Consumed by: the CLI (``aiops.cli.serve``) and the
runtime, which build every component from it and pass the pieces down. No other module reads the
environment, except the kube door's Kubernetes client conventions (``KUBECONFIG``,
``KUBERNETES_SERVICE_HOST``: ``aiops.kube.credentials``) and this module's loader
(``aiops.config``, which names the variable behind each bad value). Every field is documented in
``docs/configuration.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

#: URL schemes ``redis_url`` accepts: those of redis-py's ``Redis.from_url``
#: (https://redis.readthedocs.io/en/stable/connections.html#redis.Redis.from_url), and
#: ``redis+cluster``/``rediss+cluster`` for a Redis Cluster (``aiops.store.connection``,
#: docs/redis-cluster.md).
REDIS_URL_SCHEMES: tuple[str, ...] = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")


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


#: Telegram user ids that are never people: 1087968824 (@GroupAnonymousBot, an anonymous group
#: admin) and 777000 (Telegram's service account, posts forwarded from a linked channel). A click
#: from either can be anyone, so neither may ever approve (Telegram Bot API, "Message.from":
#: https://core.telegram.org/bots/api#message).
TELEGRAM_NOT_A_PERSON: frozenset[int] = frozenset({1087968824, 777000})


def _approver_identity(value: str) -> str:
    """Check one approver identity string (see :class:`ApprovalSettings`); returns it stripped.
    Raises ValueError naming the expected form."""
    value = value.strip()
    scheme, sep, rest = value.partition(":")
    if not sep:
        if not value:
            raise ValueError("empty approver identity")
        return value  # an API identity (a name under api.tokens, or admin)
    if scheme == "slack":
        team, slash, user = rest.partition("/")
        if not (slash and team.startswith(("T", "E")) and user[:1] in ("U", "W") and user.isalnum()):
            raise ValueError(f"{value!r}: a Slack approver is slack:<team id>/<user id> (slack:T0123/U0456)")
        return value
    if scheme == "slack-group":
        if not (rest.startswith("S") and rest.isalnum()):
            raise ValueError(f"{value!r}: a Slack user group is slack-group:<group id> (slack-group:S01)")
        return value
    if scheme == "telegram":
        if not rest.isdigit():
            raise ValueError(f"{value!r}: a Telegram approver is telegram:<numeric user id> (telegram:4242)")
        if int(rest) in TELEGRAM_NOT_A_PERSON:
            raise ValueError(
                f"{value!r} is Telegram's anonymous-admin or service id, which anyone can stand behind: "
                "name each approver's own numeric user id"
            )
        return value
    if scheme in ("kubernetes", "kubernetes-group"):
        if not rest:
            raise ValueError(f"{value!r}: expected {scheme}:<name>")
        return value
    raise ValueError(
        f"{value!r}: an approver is an API identity name, slack:<team>/<user>, slack-group:<group>, "
        "or telegram:<user id>"
    )


class ApprovalSettings(_Section):
    """The approval gate: TTL per risk (seconds), who may approve, and how many must.

    ``approvers_medium``/``approvers_high``: who may decide that risk, by identity only (never a
    display name): an API identity (a name under ``api.tokens``, or ``admin``),
    ``slack:<team id>/<user id>``, ``slack-group:<user group id>`` or ``telegram:<user id>``. An
    empty list lets any authenticated API identity decide that risk, and nobody in chat (a chat
    click is accepted only from a listed identity). ``people``: person → the identities that are
    that person (``alice: [alice, slack:T1/U1, telegram:42, kubernetes:alice@corp]``), so a person's
    vote counts once across every channel and is recorded under the person's name; a
    ``kubernetes:``/``kubernetes-group:`` entry is who the person is to the API server for the
    optional SubjectAccessReview (``subject_access_review``). ``votes_medium``/``votes_high``:
    distinct approvers a request of that risk needs; ``votes_by_action`` overrides per action
    (default ``drain: 2``). One reject ends a request.
    """

    ttl_seconds_medium: int = Field(900, ge=1, le=7 * 86400)
    ttl_seconds_high: int = Field(900, ge=1, le=7 * 86400)
    approvers_medium: list[str] = Field(default_factory=list)
    approvers_high: list[str] = Field(default_factory=list)
    people: dict[str, list[str]] = Field(default_factory=dict)
    votes_medium: int = Field(1, ge=1, le=10)
    votes_high: int = Field(1, ge=1, le=10)
    votes_by_action: dict[str, int] = Field(default_factory=lambda: {"drain": 2})
    subject_access_review: bool = False
    sweep_interval_seconds: float = Field(5.0, gt=0, le=300)

    @field_validator("approvers_medium", "approvers_high")
    @classmethod
    def _identities(cls, values: list[str]) -> list[str]:
        return [_approver_identity(v) for v in values]

    @field_validator("people")
    @classmethod
    def _people(cls, people: dict[str, list[str]]) -> dict[str, list[str]]:
        """Each identity belongs to one person at most (else one vote could count for two)."""
        owner: dict[str, str] = {}
        checked: dict[str, list[str]] = {}
        for person, identities in people.items():
            if not person.strip() or ":" in person:
                raise ValueError(f"{person!r}: a person's name is a plain name without ':'")
            checked[person] = [_approver_identity(i) for i in identities]
            for identity in checked[person]:
                if identity in owner and owner[identity] != person:
                    raise ValueError(f"{identity!r} is listed for both {owner[identity]!r} and {person!r}")
                owner[identity] = person
        return checked

    @field_validator("votes_by_action")
    @classmethod
    def _votes(cls, votes: dict[str, int]) -> dict[str, int]:
        bad = {a: n for a, n in votes.items() if not 1 <= n <= 10}
        if bad:
            raise ValueError(f"votes must be 1..10, got {bad}")
        return votes


class SlackSettings(_Section):
    """Slack: incident messages in ``channel`` (a channel id, ``C…``) with Approve/Reject buttons.

    Enabled when ``bot_token`` (``xoxb-…``) is set. ``mode``: ``socket`` (default: Socket Mode,
    needs the app-level ``app_token``, ``xapp-…``, and no ingress) or ``http`` (Slack posts to
    ``/slack/events`` on the API port, verified with ``signing_secret``). ``api_url``: the Web API
    base URL (tests and air-gapped proxies set it). Clicks are accepted only from ``channel``.
    Setting up the app: docs/chat.md (the manifest is docs/slack-app-manifest.yaml).
    """

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api/"
    mode: Literal["socket", "http"] = "socket"

    @property
    def enabled(self) -> bool:
        """Whether Slack is configured (a bot token is set)."""
        return self.bot_token is not None

    @model_validator(mode="after")
    def _complete(self) -> SlackSettings:
        if self.bot_token is None:
            return self
        missing = []
        if not self.channel:
            missing.append("channel (AIOPS_SLACK__CHANNEL, a channel id such as C0123456789)")
        if self.mode == "socket" and self.app_token is None:
            missing.append("app_token (AIOPS_SLACK__APP_TOKEN, xapp-…) for Socket Mode, or set mode: http")
        if self.mode == "http" and self.signing_secret is None:
            missing.append("signing_secret (AIOPS_SLACK__SIGNING_SECRET) for HTTP mode")
        if missing:
            raise ValueError("Slack is enabled (bot_token is set) but needs " + "; ".join(missing))
        return self


class TelegramSettings(_Section):
    """Telegram: incident messages in every chat of ``chat_ids`` with an inline keyboard.

    Enabled when ``bot_token`` is set. ``chat_ids``: the chats (private chats or groups; group ids
    are negative) messages go to and the only chats clicks are accepted from
    (``AIOPS_TELEGRAM__CHAT_IDS=-1001234,42`` or a JSON list). ``mode``: ``polling`` (default:
    getUpdates long polling by the one replica that holds the poller's Lease) or
    ``webhook`` (Telegram posts to ``/telegram/webhook`` on the API port with
    ``webhook_secret`` in ``X-Telegram-Bot-Api-Secret-Token``; ``webhook_url``, when set, is
    registered with setWebhook at start). ``api_url``: the Bot API base URL (tests and proxies).
    """

    bot_token: SecretStr | None = None
    chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    webhook_url: str | None = None
    api_url: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"

    @property
    def enabled(self) -> bool:
        """Whether Telegram is configured (a bot token is set)."""
        return self.bot_token is not None

    @field_validator("chat_ids", mode="before")
    @classmethod
    def _chat_ids(cls, value: Any) -> Any:
        """Accept ``-1001234,42`` and ``[-1001234, 42]`` as well as a list."""
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token(cls, secret: SecretStr | None) -> SecretStr | None:
        """1-256 characters of A-Z, a-z, 0-9, ``_`` and ``-`` (Bot API, setWebhook
        ``secret_token``: https://core.telegram.org/bots/api#setwebhook)."""
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret.get_secret_value()):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's secret_token rule)")
        return secret

    @model_validator(mode="after")
    def _complete(self) -> TelegramSettings:
        if self.bot_token is None:
            return self
        missing = []
        if not self.chat_ids:
            missing.append("chat_ids (AIOPS_TELEGRAM__CHAT_IDS, e.g. -1001234567890)")
        if self.mode == "webhook" and self.webhook_secret is None:
            missing.append("webhook_secret (AIOPS_TELEGRAM__WEBHOOK_SECRET) for webhook mode")
        if missing:
            raise ValueError("Telegram is enabled (bot_token is set) but needs " + "; ".join(missing))
        return self


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

    @field_validator("token")
    @classmethod
    def _token_not_empty(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not token.get_secret_value().strip():
            raise ValueError("empty token: give a long random token, or leave it unset")
        return token

    @field_validator("tokens")
    @classmethod
    def _one_identity_per_token(
        cls, tokens: dict[str, SecretStr], info: ValidationInfo
    ) -> dict[str, SecretStr]:
        """Refuse an empty token and a token shared by two identities (``token`` counts as ``admin``):
        the API could not tell them apart, so one person's approvals would be recorded as another's."""
        named = [(repr(name), secret.get_secret_value()) for name, secret in tokens.items()]
        token = info.data.get("token")
        if isinstance(token, SecretStr):
            named.append(("'admin' (api.token)", token.get_secret_value()))
        empty = [name for name, value in named if not value.strip()]
        if empty:
            raise ValueError(f"empty token for {', '.join(empty)}: give each identity a long random token")
        owners: dict[str, list[str]] = {}
        for name, value in named:
            owners.setdefault(value, []).append(name)
        shared = [names for names in owners.values() if len(names) > 1]
        if shared:
            pairs = "; ".join(" and ".join(names) for names in shared)
            raise ValueError(
                f"{pairs} have the same token, so the API cannot tell them apart and one's approvals "
                "would be recorded as the other's: give each identity its own token"
            )
        return tokens

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

    ``max_memory_limit``: a positive Kubernetes quantity (bytes, e.g. ``4Gi``); ``patch_resources``
    never raises a memory limit above it. Its syntax and sign are checked when the configuration is
    loaded (``aiops.config``, with the quantity parser of ``aiops.actions``).
    ``eviction_timeout_seconds``: how long drain keeps retrying evictions a PodDisruptionBudget
    blocks (429) before giving up.
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
    * ``namespaces`` / ``exclude_namespaces``: where steps may act, reads included (``*`` = all);
      ``protected_namespaces``: never written to nor read by a step (the operator's own namespace
      is added at start); see ``aiops.safety.scope``.
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


class LeaderElectionSettings(_Section):
    """Which replica acts: only the holder of a ``coordination.k8s.io/v1`` Lease launches runs,
    executes steps, verifies and sweeps (docs/operations.md, "High availability"); every replica
    serves the API, the Alertmanager webhook and chat clicks.

    ``lease_name`` lives in the operator's namespace (``pod_namespace``; ``default`` outside a
    pod); two installations in one namespace need different names (the chart uses the release's
    full name). The timings are client-go's ``LeaderElectionConfig`` (``LeaseDuration``,
    ``RenewDeadline``, ``RetryPeriod``). kube-controller-manager's 15 s, 10 s, 2 s would make a
    standby take over 14-18 s after a SIGKILL (it waits a full duration from the last renewal it
    observed, which it observes up to one retry late, and checks once per retry); 10 s, 7 s, 1 s
    keep takeover within about 9-12 s (docs/operations.md, "High availability", measured with
    ``python -m bench failover``), at the cost of one renewal per second. After a clean shutdown
    the Lease is released and a standby takes over within one retry.
    ``enabled: false``: this process acts alone, without a Lease (one replica only).
    """

    enabled: bool = True
    lease_name: str = Field(
        "aiops-leader", min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
    )
    lease_duration_seconds: float = Field(10.0, gt=0, le=300)
    renew_deadline_seconds: float = Field(7.0, gt=0, le=300)
    retry_period_seconds: float = Field(1.0, gt=0, le=60)

    @model_validator(mode="after")
    def _ordered(self) -> LeaderElectionSettings:
        if not self.retry_period_seconds < self.renew_deadline_seconds < self.lease_duration_seconds:
            raise ValueError(
                "leader_election needs retry_period_seconds < renew_deadline_seconds < "
                f"lease_duration_seconds (got {self.retry_period_seconds}, {self.renew_deadline_seconds}, "
                f"{self.lease_duration_seconds}): a leader must give up before its Lease expires for others"
            )
        return self


class Settings(BaseSettings):
    """Root settings. Env: ``AIOPS_REDIS_URL`` or ``REDIS_URL``, ``AIOPS_API__TOKEN``, ...

    ``AIOPS_CONFIG`` names an optional YAML file with the same structure.
    ``rules_file`` defaults to the shipped rules. Playbooks load from the shipped built-ins
    (``playbooks/``, unless ``include_builtin_playbooks`` is false) plus ``playbook_dirs``.
    ``startup_wait_seconds``: how long ``aiops run`` keeps trying Redis and the Kubernetes API at
    start before it gives up with exit code 1 (0: one try each).
    ``pod_namespace``: the namespace aiops runs in, from ``POD_NAMESPACE`` (the chart sets it
    through the downward API); ``None`` outside a pod. The runtime protects it from aiops' own
    writes (added to ``safety.protected_namespaces``; the service account's namespace file is the
    fallback, ``aiops.kube.service_account_namespace``).
    """

    model_config = SettingsConfigDict(
        env_prefix="AIOPS_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", validation_alias=AliasChoices("AIOPS_REDIS_URL", "REDIS_URL", "redis_url")
    )
    redis_prefix: str = "aiops:"
    startup_wait_seconds: float = Field(15.0, ge=0, le=600)
    rules_file: Path | None = None
    playbook_dirs: list[Path] = Field(default_factory=list)
    include_builtin_playbooks: bool = True
    watch_playbook_resources: bool = True
    pod_namespace: str | None = Field(None, validation_alias=AliasChoices("POD_NAMESPACE", "pod_namespace"))
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
    leader_election: LeaderElectionSettings = Field(default_factory=LeaderElectionSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, url: str) -> str:
        """A URL redis-py can open: one of :data:`REDIS_URL_SCHEMES`, a host (or a socket path), a
        numeric port. The message never repeats the URL (it may carry a password)."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port  # raises ValueError when not a number in 0..65535
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc}); expected redis://host:6379/0") from exc
        if parts.scheme not in REDIS_URL_SCHEMES:
            shown = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
            raise ValueError(
                f"{shown}: a Redis URL starts with {', '.join(s + '://' for s in REDIS_URL_SCHEMES)}"
                " (e.g. redis://redis:6379/0)"
            )
        if parts.scheme == "unix" and not parts.path:
            raise ValueError("unix:// needs the socket's path, e.g. unix:///run/redis/redis.sock")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("no host: expected e.g. redis://redis:6379/0")
        if port == 0:
            raise ValueError("port 0: expected e.g. redis://redis:6379/0")
        if parts.scheme.endswith("+cluster") and parts.path.strip("/") not in ("", "0"):
            raise ValueError(
                "a Redis Cluster has only database 0: expected e.g. redis+cluster://redis:6379/0"
            )
        return url.strip()

    @field_validator("pod_namespace")
    @classmethod
    def _pod_namespace(cls, name: str | None) -> str | None:
        """Surrounding whitespace dropped; an empty value is no namespace (``None``)."""
        return (name or "").strip() or None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: explicit arguments > environment > the settings file given to :func:`load`."""
        file_data = _FILE_DATA.get()
        if file_data is None:
            return init_settings, env_settings
        return init_settings, _EnvOverFile(settings_cls, env_settings, _FileSource(settings_cls, file_data))


#: The parsed settings file while :func:`load` builds a :class:`Settings` (None: no file).
_FILE_DATA: ContextVar[Mapping[str, Any] | None] = ContextVar("aiops_settings_file", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """The YAML settings file's top-level mapping, already parsed by the caller (lowest precedence)."""

    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = dict(data)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """The file's value for ``field_name`` (pydantic-settings' source interface)."""
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class _EnvOverFile(PydanticBaseSettingsSource):
    """The environment over the settings file, one key per field.

    A field with several names (``redis_url``: ``AIOPS_REDIS_URL``, ``REDIS_URL``, ``redis_url``;
    ``pod_namespace``: ``POD_NAMESPACE``) comes back from the environment under its first alias and
    from the file under its field name. Merged side by side, both keys would reach the model, which
    takes one and refuses the other as an unknown setting; so the file's entry for a field the
    environment sets is dropped here, and the environment wins as documented.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource, file: _FileSource
    ) -> None:
        super().__init__(settings_cls)
        self._env, self._file = env, file

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` merges whole mappings (pydantic-settings' source interface)."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env, file = self._env(), self._file()
        for name, field in self.settings_cls.model_fields.items():
            names = {name, *_aliases(field)}
            if names & env.keys():
                for key in names - env.keys():
                    file.pop(key, None)
        return _merged(file, env)


def _merged(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """``low`` updated by ``high``, nested mappings merged key by key (as pydantic-settings merges
    its sources: ``AIOPS_API__TOKEN`` in the environment keeps the file's other ``api`` keys)."""
    out = dict(low)
    for key, value in high.items():
        below = out.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            out[key] = _merged(below, value)
        else:
            out[key] = value
    return out


def _aliases(field: FieldInfo) -> tuple[str, ...]:
    """Every name a field is read under besides its own (``validation_alias``, then ``alias``), in
    precedence order."""
    alias = field.validation_alias
    found: list[str] = []
    if isinstance(alias, str):
        found.append(alias)
    elif isinstance(alias, AliasChoices):
        found.extend(choice for choice in alias.choices if isinstance(choice, str))
    if field.alias:
        found.append(field.alias)
    return tuple(found)


def env_aliases(field: str) -> tuple[str, ...]:
    """The other names top-level setting ``field`` is read under, in precedence order (its
    ``validation_alias``): ``("AIOPS_REDIS_URL", "REDIS_URL")`` for ``redis_url``,
    ``("POD_NAMESPACE",)`` for ``pod_namespace``, ``()`` for a plain setting. Raises KeyError for
    an unknown setting."""
    return tuple(name for name in _aliases(Settings.model_fields[field]) if name != field)


@contextmanager
def _file_data(data: Mapping[str, Any] | None) -> Iterator[None]:
    token = _FILE_DATA.set(data)
    try:
        yield
    finally:
        _FILE_DATA.reset(token)


def load(*, file_data: Mapping[str, Any] | None = None, **overrides: Any) -> Settings:
    """Settings from ``overrides`` > the environment > ``file_data`` (the YAML settings file's mapping).

    Raises pydantic's ``ValidationError`` (every bad field) or pydantic-settings' ``SettingsError``
    (an environment value that should be JSON and is not). ``aiops.config.load`` reads the file and
    turns both into problems naming the environment variable or the file, line and key.
    """
    with _file_data(file_data):
        return Settings(**overrides)
