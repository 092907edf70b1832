"""Where the Kubernetes client's configuration comes from: kubeconfig files, the in-cluster account.

Fed by: the ``kube`` settings (:class:`aiops.settings.KubeSettings`: ``kubeconfig``, ``context``,
``in_cluster``, ``server``) through :meth:`aiops.kube.Kube.from_settings`, and ``aiops config
check``/the preflight checks (:func:`client_source`). Consumes: the kubeconfig files and the
service account files Kubernetes mounts into a pod; produces a ``kubernetes_asyncio``
``Configuration`` (only this package imports ``kubernetes_asyncio``).

The Kubernetes client conventions are part of this door, environment included: ``$KUBECONFIG``
names the kubeconfig files when ``kube.kubeconfig`` is unset, as kubectl reads them ("Organizing
Cluster Access Using kubeconfig Files",
https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/), and the
in-cluster configuration is found by ``KUBERNETES_SERVICE_HOST`` and the files under
``/var/run/secrets/kubernetes.io/serviceaccount`` ("Accessing the Kubernetes API from a Pod",
https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/); kubernetes-asyncio's own
``load_incluster_config`` reads the same variable. Every other setting is read by
:mod:`aiops.settings` only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from aiops.kube.api_errors import CredentialsError
from aiops.settings import KubeSettings

#: Where Kubernetes mounts a pod's service account (token, ca.crt, namespace).
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def kubeconfig_paths(kubeconfig: str | None = None) -> list[Path]:
    """The kubeconfig files kubectl would read: ``kubeconfig``, else each entry of ``$KUBECONFIG``
    (separated by ``os.pathsep``), else ``~/.kube/config`` ("Organizing Cluster Access Using
    kubeconfig Files", https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/)."""
    named = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [Path(part).expanduser() for part in named.split(os.pathsep) if part]


def client_source(conf: KubeSettings) -> str:
    """How :meth:`aiops.kube.Kube.from_settings` reaches the API server, for start-up messages and ``aiops
    config check``: the ``server`` URL, the in-cluster service account, or the kubeconfig files
    (:func:`kubeconfig_paths`) and context; with neither ``in_cluster`` nor ``kubeconfig`` set,
    the in-cluster account when running in a pod, else the kubeconfig."""
    if conf.server:
        return f"server {conf.server} (AIOPS_KUBE__SERVER)"
    if conf.in_cluster:
        return "the in-cluster service account"
    paths = os.pathsep.join(str(p) for p in kubeconfig_paths(conf.kubeconfig))
    kubeconfig = f"kubeconfig {paths}, context {conf.context or '(its current-context)'}"
    if conf.in_cluster is None and not conf.kubeconfig:
        return f"the in-cluster service account in a pod, else {kubeconfig}"
    return kubeconfig


def _contexts(paths: list[Path]) -> list[str]:
    """The context names the kubeconfig files define (unreadable files define none)."""
    names: list[str] = []
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        contexts = doc.get("contexts") if isinstance(doc, dict) else None
        for item in contexts if isinstance(contexts, list) else []:
            if isinstance(item, dict) and item.get("name"):
                names.append(str(item["name"]))
    return names


async def load_configuration(
    kubeconfig: str | None = None, context: str | None = None, in_cluster: bool | None = None
) -> Any:
    """The ``kubernetes_asyncio.client.Configuration`` to build an ``ApiClient`` from.

    In-cluster service account when ``in_cluster`` is True, or None with no ``kubeconfig`` and
    running in a pod; else the kubeconfig (``None``: ``$KUBECONFIG`` or ``~/.kube/config``).
    Raises :class:`CredentialsError` (a :class:`aiops.errors.ConfigError`) saying what was tried:
    a kubeconfig that does not exist is named as missing (kubernetes-asyncio would report
    "Expected key current-context"), a context it lacks is named with the ones it has.
    """
    from kubernetes_asyncio import client, config

    cfg = client.Configuration()
    tried: list[str] = []
    if in_cluster or (in_cluster is None and kubeconfig is None):
        try:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
            return cfg
        except config.ConfigException as exc:
            why = (
                str(exc) if os.environ.get("KUBERNETES_SERVICE_HOST") else "KUBERNETES_SERVICE_HOST is unset"
            )
            tried.append(f"in-cluster service account: not usable ({why})")
            if in_cluster:
                raise CredentialsError(tried) from exc
    paths = kubeconfig_paths(kubeconfig)
    shown = os.pathsep.join(str(p) for p in paths)
    if not any(p.is_file() for p in paths):
        tried.append(f"kubeconfig {shown}: does not exist")
        raise CredentialsError(tried)
    try:
        await config.load_kube_config(
            config_file=shown, context=context, client_configuration=cfg, persist_config=False
        )
    except (config.ConfigException, OSError, ValueError, AttributeError, TypeError) as exc:
        known = _contexts(paths)
        if context is not None and context not in known:
            has = ", ".join(known) or "none"
            tried.append(f"kubeconfig {shown}: no context {context!r} (it has: {has})")
        else:
            tried.append(f"kubeconfig {shown}: not usable ({exc})")
        raise CredentialsError(tried) from exc
    return cfg


def service_account_namespace(directory: Path = SERVICE_ACCOUNT_DIR) -> str | None:
    """The namespace of the pod's service account (the ``namespace`` file Kubernetes mounts beside
    its token), stripped; ``None`` outside a pod or when the file is empty or unreadable."""
    try:
        name = (directory / "namespace").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return name or None
