"""The aiops error tree. Every error aiops raises on purpose derives from :class:`AiopsError`.

::

    AiopsError
     ├── ConfigError              invalid settings, rules or playbooks; the operator refuses to start
     │    ├── ValidationFailed    one or more located problems (file, line, field), see ``.problems``
     │    ├── UnknownPlaybook     no playbook has the requested id (playbooks.registry)
     │    ├── PlaybookConflict    a Playbook resource claims the id of another playbook (playbooks.registry)
     │    └── CredentialsError    no usable Kubernetes client configuration (kube.api_errors)
     ├── TemporaryError           worth retrying later (API 5xx/429, Redis unreachable); ``.delay_seconds``
     │    ├── StoreUnavailable    Redis did not answer or refuses writes
     │    ├── LlmUnavailable      the LLM endpoint failed for now; the heuristic RCA stands (enrichment.llm)
     │    ├── DeliveryRetry       chat channel rate-limited or down; ``.retry_after_seconds`` (chat.notifier)
     │    └── kube.TemporaryApiError (also a kube.ApiError)   429, 5xx, no connection
     │         ├── TooManyRequests     429 (an eviction a PodDisruptionBudget forbids)
     │         └── Unreachable         no HTTP answer at all
     ├── PermanentError           retrying will not help (404, 422, refused action)
     │    ├── ActionRefused       an action declined to act (paused Deployment, empty target set, ...)
     │    ├── TemplateError       a playbook template failed to render (playbooks.templating)
     │    ├── LlmRejected         the LLM endpoint refused the request (enrichment.llm)
     │    ├── DeliveryFailed      chat channel can never deliver this; dead-lettered (chat.notifier)
     │    ├── InvalidName         a name the Kubernetes naming rules refuse; nothing sent (kube.api_errors)
     │    └── kube.PermanentApiError (also a kube.ApiError)   every other 4xx
     │         └── NotFound (404), Conflict (409), Forbidden (403), Invalid (422)
     ├── kube.ApiError            the Kubernetes API answered a failure, or did not answer (kube.api_errors)
     ├── ApprovalError            a decision on an approval request was refused
     │    ├── ApprovalNotFound    no request with that id
     │    ├── AlreadyDecided      the request was decided before (carries the earlier decision)
     │    ├── ApprovalExpired     the request's TTL ran out before the decision
     │    ├── NotAllowed          the approver is not on the allow-list for that risk, or triggered the run
     │    └── AlreadyVoted        this person's vote already counts (N distinct approvers needed)
     ├── ApiClientError           the aiops HTTP API answered an error or was unreachable (client)
     ├── StartupFailed            Redis or the Kubernetes API unreachable at start: exit 1 (preflight)
     └── ComponentFailed          the kopf operator or the API server ended while aiops runs: exit 1

Exceptions that never leave their module derive from Python's own classes on purpose, and are
not part of this tree: ``sources.kubewatch.fields.Malformed`` (ValueError: a malformed body,
turned into "no events"), ``playbooks.sandbox.TemplateLimit`` (Jinja's SecurityError, turned
into a ``TemplateError``), ``demo.Interrupted`` (Ctrl-C in the demo), and the emulator's
``PatchError``, ``SelectorError``, ``MultipleBudgets`` and ``ApiStatus`` (turned into the API
answers they stand for).

The split between temporary and permanent follows kopf's ``TemporaryError``/``PermanentError``.
"""

from __future__ import annotations

from dataclasses import dataclass


class AiopsError(Exception):
    """Base class of every error aiops raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One located validation problem: ``file:line: field: message``.

    ``line`` is 1-based (as editors show it) or ``None`` when unknown; ``field`` is a dotted path
    such as ``steps.1.risk``.
    """

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field or '<root>'}: {self.message}"


class ConfigError(AiopsError):
    """Invalid configuration; the operator refuses to start rather than run half a config."""


class ValidationFailed(ConfigError):
    """One or more located problems. ``problems`` is never empty."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class TemporaryError(AiopsError):
    """A failure worth retrying after ``delay_seconds``."""

    def __init__(self, message: str, *, delay_seconds: float = 1.0) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class PermanentError(AiopsError):
    """A failure that retrying will not fix."""


class ActionRefused(PermanentError):
    """An action declined to act, with the reason in the message (e.g. the Deployment is paused)."""


class ApprovalError(AiopsError):
    """A decision on an approval request was refused."""


class ApprovalNotFound(ApprovalError):
    """No approval request has that id (never existed, or purged after its retention)."""


class AlreadyDecided(ApprovalError):
    """The request was decided before; ``state`` and ``decided_by`` describe the earlier decision."""

    def __init__(self, request_id: str, state: str, decided_by: str | None) -> None:
        by = f" by {decided_by}" if decided_by else ""
        super().__init__(f"approval request {request_id} was already {state}{by}; a decision is final")
        self.request_id = request_id
        self.state = state
        self.decided_by = decided_by


class ApprovalExpired(ApprovalError):
    """The request's TTL ran out before anyone decided."""


class NotAllowed(ApprovalError):
    """The approver is not on the allow-list for the request's risk, or is the person who
    triggered the run (who may not approve it)."""


class AlreadyVoted(ApprovalError):
    """This person already voted to approve a request that needs several distinct approvers; a
    person's vote counts once across every channel. ``person``, ``votes`` (who voted, in order)
    and ``votes_needed`` describe the count."""

    def __init__(self, request_id: str, person: str, votes: list[str], votes_needed: int) -> None:
        super().__init__(
            f"{person} already voted on approval request {request_id} "
            f"(votes {len(votes)}/{votes_needed}: {', '.join(votes)}); another approver must vote"
        )
        self.request_id = request_id
        self.person = person
        self.votes = list(votes)
        self.votes_needed = votes_needed


class StoreUnavailable(TemporaryError):
    """Redis did not answer, or refuses writes for now (OOM, READONLY, ...); callers answer 503 or
    retry after ``delay_seconds``."""


class FenceLost(Exception):
    """This replica's leadership term is over (another replica took the acting Lease, or this one
    no longer holds it): a step claim or a write it was about to make is refused, nothing is sent,
    and the run is left to the current leader (docs/operations.md, "High availability").

    Not an :class:`AiopsError` on purpose: the stage boundaries that record an AiopsError as a
    step's failure must let it through (the deposed replica records nothing more)."""


class ComponentFailed(AiopsError):
    """A component that must run for the whole life of ``aiops run`` (the kopf operator, the API
    server) ended before a stop was asked for; the process must exit non-zero so that its
    supervisor (Kubernetes) restarts it. ``component`` names it."""

    def __init__(self, component: str, message: str) -> None:
        super().__init__(message)
        self.component = component
