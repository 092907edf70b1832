"""The failures of the Kubernetes API door, typed: one class per answer a caller handles differently.

Fed by: :meth:`aiops.kube.Kube.request` (an HTTP failure status and its Status body, or no answer
at all), the path builders of :mod:`aiops.kube.paths` (a name the naming rules refuse) and the
client configuration of :mod:`aiops.kube.credentials`. Consumed by: every caller of
:class:`aiops.kube.Kube` (actions, enrichment, the safety verifier, the preflight checks), which
catch these classes only, never ``kubernetes_asyncio``'s.

::

    ApiError (errors.AiopsError)
     ├── TemporaryApiError (errors.TemporaryError)   429, 5xx, connection failures (status 0)
     │    ├── TooManyRequests                          429 (e.g. an eviction a PDB forbids)
     │    └── Unreachable                              no HTTP answer at all
     └── PermanentApiError (errors.PermanentError)   every other 4xx
          ├── NotFound (404)  ├── Conflict (409)  ├── Forbidden (403)  └── Invalid (422)

    InvalidName (errors.PermanentError)   a namespace, name or other path part the Kubernetes
                                          naming rules refuse: raised before anything is sent
    CredentialsError (errors.ConfigError) no usable client configuration (kubeconfig, in-cluster)

The status codes and the Status body (``reason``, ``message``, ``details.causes``) follow "API
Concepts" (https://kubernetes.io/docs/reference/using-api/api-concepts/) and the ``Status``
reference (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/).
"""

from __future__ import annotations

from typing import Any

from aiops import errors


class ApiError(errors.AiopsError):
    """The API answered a failure (or did not answer). ``body`` is the Status object or text."""

    def __init__(self, status: int, reason: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else f"{reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body

    @property
    def causes(self) -> list[str]:
        """The ``details.causes[].message`` texts of the Status (e.g. why a PDB refused an eviction)."""
        details = self.body.get("details") if isinstance(self.body, dict) else None
        return [str(c.get("message", "")) for c in (details or {}).get("causes") or [] if isinstance(c, dict)]


class TemporaryApiError(ApiError, errors.TemporaryError):
    """A failure worth retrying: 429, 5xx, no connection."""

    def __init__(
        self, status: int, reason: str, message: str, body: Any = None, *, delay_seconds: float = 1.0
    ):
        super().__init__(status, reason, message, body)
        self.delay_seconds = delay_seconds


class PermanentApiError(ApiError, errors.PermanentError):
    """A failure retrying will not fix: 4xx other than 429."""


class TooManyRequests(TemporaryApiError):
    """429: the server refuses for now (an eviction a PodDisruptionBudget forbids, rate limits)."""


class Unreachable(TemporaryApiError):
    """No HTTP answer: connection refused, DNS, timeout (``status`` 0)."""


class NotFound(PermanentApiError):
    """404: no such object (or resource)."""


class Conflict(PermanentApiError):
    """409: stale resourceVersion, failed precondition or already exists."""


class Forbidden(PermanentApiError):
    """403: RBAC denies it."""


class Invalid(PermanentApiError):
    """422: the object or patch does not validate."""


_BY_STATUS: dict[int, type[ApiError]] = {
    404: NotFound,
    409: Conflict,
    403: Forbidden,
    422: Invalid,
    429: TooManyRequests,
}


def error_for(status: int, body: Any, *, retry_after: str | None = None) -> ApiError:
    """The :class:`ApiError` subclass for an HTTP failure ``status`` with its response ``body``."""
    reason = str(body.get("reason") or "") if isinstance(body, dict) else ""
    message = str(body.get("message") or "") if isinstance(body, dict) else str(body)[:500]
    cls = _BY_STATUS.get(status) or (TemporaryApiError if status >= 500 else PermanentApiError)
    if issubclass(cls, TemporaryApiError):
        delay = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
        return cls(status, reason or "ServerError", message, body, delay_seconds=delay)
    return cls(status, reason or "Failure", message, body)


class CredentialsError(errors.ConfigError):
    """No usable Kubernetes client configuration; ``tried`` says what was tried and why it failed, in
    order (``["kubeconfig /root/.kube/config: does not exist"]``); the message joins them."""

    def __init__(self, tried: list[str]) -> None:
        super().__init__("; ".join(tried))
        self.tried = list(tried)


class InvalidName(errors.PermanentError):
    """A namespace, name, kind, API version, subresource or uid the Kubernetes naming rules refuse.

    Raised by :func:`aiops.kube.paths.resource_path` (and the calls that build paths or selectors) before any
    request is sent. ``what`` says which part (``"Pod name"``), ``value`` is the refused text,
    ``reason`` the message without the note that nothing was sent (for param validation).
    """

    def __init__(self, what: str, value: str, rule: str) -> None:
        shown = value if len(value) <= 80 else value[:80] + "…"
        self.reason = f"invalid {what} {shown!r}: {rule}"
        super().__init__(f"{self.reason}; nothing was sent to the API server")
        self.what = what
        self.value = value
