"""The one door to the Kubernetes API: plain-JSON get, list, create, patch, delete, evict, logs.

Fed by: ``aiops.runtime`` (built once from settings: kubeconfig, in-cluster, or the emulator's
URL). Consumed by: actions (``aiops.actions``), enrichment, the safety verifier, the Playbook
status writer (``aiops.playbooks.resources``), the preflight checks and the API's readiness check.

This package is the only one importing ``kubernetes_asyncio`` (lazily, so importing it is cheap;
import-linter contract "Only aiops.kube imports kubernetes_asyncio"). One job per module:

* :mod:`aiops.kube.client`: :class:`Kube`, the REST verbs over one ``ApiClient``, plain JSON;
* :mod:`aiops.kube.paths`: REST paths and field selectors, every name checked against the
  Kubernetes naming rules ("Object Names and IDs") and percent-encoded as one path segment;
* :mod:`aiops.kube.api_errors`: the typed failures (the tree below);
* :mod:`aiops.kube.calls`: :class:`ApiCall`, the record of each call (:meth:`Kube.recording`);
* :mod:`aiops.kube.credentials`: kubeconfig files, the in-cluster service account, and the
  environment variables of those client conventions (``KUBECONFIG``, ``KUBERNETES_SERVICE_HOST``).

The typed errors (the :class:`ApiError` tree, :class:`InvalidName`, :class:`CredentialsError`) are
drawn in :mod:`aiops.kube.api_errors`; everything above is re-exported here.
"""

from aiops.kube.api_errors import (
    ApiError,
    Conflict,
    CredentialsError,
    Forbidden,
    Invalid,
    InvalidName,
    NotFound,
    PermanentApiError,
    TemporaryApiError,
    TooManyRequests,
    Unreachable,
    error_for,
)
from aiops.kube.calls import ApiCall, CallRecorders, summarize
from aiops.kube.client import PATCH_CONTENT_TYPES, Kube, PatchType, event_time
from aiops.kube.credentials import (
    SERVICE_ACCOUNT_DIR,
    client_source,
    kubeconfig_paths,
    load_configuration,
    service_account_namespace,
)
from aiops.kube.paths import (
    PLURALS,
    ObjectRefLike,
    check_container,
    check_name,
    check_namespace,
    event_selector,
    plural_of,
    resource_path,
)

__all__ = [
    "PATCH_CONTENT_TYPES",
    "PLURALS",
    "SERVICE_ACCOUNT_DIR",
    "ApiCall",
    "ApiError",
    "CallRecorders",
    "Conflict",
    "CredentialsError",
    "Forbidden",
    "Invalid",
    "InvalidName",
    "Kube",
    "NotFound",
    "ObjectRefLike",
    "PatchType",
    "PermanentApiError",
    "TemporaryApiError",
    "TooManyRequests",
    "Unreachable",
    "check_container",
    "check_name",
    "check_namespace",
    "client_source",
    "error_for",
    "event_selector",
    "event_time",
    "kubeconfig_paths",
    "load_configuration",
    "plural_of",
    "resource_path",
    "service_account_namespace",
    "summarize",
]
