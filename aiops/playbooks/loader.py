"""Playbooks from YAML files and from ``Playbook`` custom resources, with located errors.

Fed by: the built-in ``playbooks/`` directory, operator-configured directories, and the operator's
watch on ``Playbook`` resources (group ``aiops.dev``, see ``deploy/crds/playbook.yaml``).
Consumed by: :mod:`aiops.playbooks.registry` and ``aiops playbooks validate``.

Every problem is an :class:`aiops.errors.Problem` with file, 1-based line and dotted field path;
a load reports all the problems of all the files at once in one
:class:`aiops.errors.ValidationFailed`, so a user fixes everything in one round. Besides the
schema (:mod:`aiops.playbooks.model`), each step's params are checked against its action's
signature (:mod:`aiops.actions.signature`). A file may hold bare playbooks or ``Playbook``
custom resources (``apiVersion``/``kind``/``metadata``/``spec``, as in ``deploy/examples/``);
a file without any document is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aiops import errors, yamlsource
from aiops.actions import signature
from aiops.playbooks import templating
from aiops.playbooks.model import RESERVED_FIELDS, Playbook

__all__ = [
    "RESOURCE_API_VERSION",
    "is_resource",
    "load_playbook_file",
    "load_playbooks",
    "playbook_files",
    "playbook_from_resource",
    "resource_identity",
]

_SUFFIXES = (".yaml", ".yml")

#: The ``apiVersion`` of ``Playbook`` custom resources (deploy/crds/playbook.yaml).
RESOURCE_API_VERSION = "aiops.dev/v1alpha1"
#: The top-level fields of a ``Playbook`` resource; ``status`` is the operator's.
_RESOURCE_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})


def playbook_files(paths: Iterable[Path]) -> list[Path]:
    """Files named by ``paths``: a file as given, a directory as its ``*.yaml``/``*.yml`` sorted by name.

    Directories are not searched recursively. Raises :class:`ValidationFailed` naming every path
    that does not exist.
    """
    files, missing = _expand(paths)
    if missing:
        raise errors.ValidationFailed(missing)
    return files


def _expand(paths: Iterable[Path]) -> tuple[list[Path], list[errors.Problem]]:
    files: list[Path] = []
    missing: list[errors.Problem] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            missing.append(errors.Problem(str(path), None, "", "no such file or directory"))
    return files, missing


def load_playbook_file(path: Path) -> list[Playbook]:
    """Every playbook in ``path`` (one per YAML document, ``---``-separated), in file order.

    Raises :class:`ValidationFailed` with every problem of the file: YAML syntax, schema,
    catalog/risk/template checks, duplicate keys, and ids defined twice within the file.
    """
    playbooks, problems = _load_file(path)
    problems += _duplicate_ids(playbooks)
    if problems:
        raise errors.ValidationFailed(problems)
    return playbooks


def load_playbooks(paths: Iterable[Path]) -> list[Playbook]:
    """Every playbook of every file under ``paths`` (see :func:`playbook_files`), in order.

    Raises :class:`ValidationFailed` with all problems of all files, including an id defined in
    two files (reported at the later one, naming the earlier ``file:line``).
    """
    files, problems = _expand(paths)
    playbooks: list[Playbook] = []
    for path in files:
        loaded, file_problems = _load_file(path)
        playbooks += loaded
        problems += file_problems
    problems += _duplicate_ids(playbooks)
    if problems:
        raise errors.ValidationFailed(problems)
    return playbooks


def playbook_from_resource(
    body: Mapping[str, Any], *, file: str | None = None, node: yaml.Node | None = None
) -> Playbook:
    """The playbook of a ``Playbook`` custom resource body (``apiVersion``, ``kind``, ``metadata``, ``spec``).

    ``spec`` is the playbook; ``spec.id`` defaults to ``metadata.name``. From the cluster (no
    ``file``): the playbook's ``source`` is ``Playbook/<namespace>/<name>``, its ``line`` ``None``
    and its ``home_namespace`` the resource's namespace (where alone it may act). From a YAML
    ``file`` (``aiops playbooks validate``, a playbook directory; ``node`` is the document's
    node): problems carry that file and their lines, and the playbook is a file playbook.
    Raises :class:`ValidationFailed` whose problems have fields relative to the resource
    (``spec.steps.1.risk``), ready for the resource's status.
    """
    metadata = body.get("metadata") or {}
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = str(metadata.get("name") or "")
    namespace = str(metadata.get("namespace") or "")
    source = file or resource_identity(body)[1]
    problems = _resource_envelope(body, file=file, node=node) if file else []
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        problems.append(
            errors.Problem(source, yamlsource.line_at(node, ("spec",)), "spec", "must be a mapping")
        )
        raise errors.ValidationFailed(problems)
    spec_node = yamlsource.node_at(node, ("spec",))
    data = dict(spec)
    problems += _reserved(data, file=source, node=spec_node, prefix=("spec",))
    id_defaulted = "id" not in data
    if id_defaulted:
        data["id"] = name
    home = None if file else namespace
    found: list[errors.Problem] = []
    try:
        playbook = Playbook.model_validate(
            {**data, "source": source, "line": yamlsource.line_at(node, ()), "home_namespace": home}
        )
    except ValidationError as exc:
        for problem in yamlsource.problems_from_error(exc, file=source, node=spec_node, prefix=("spec",)):
            if id_defaulted and problem.field == "spec.id":
                message = f"{name!r} is not a valid playbook id ({problem.message}); set spec.id"
                line = yamlsource.line_at(node, ("metadata", "name"))
                found.append(errors.Problem(source, line, "metadata.name", message))
            else:
                found.append(problem)
    problems += _merged(found, _signature_problems(data, file=source, node=spec_node, prefix=("spec",)))
    if problems:
        raise errors.ValidationFailed(problems)
    return playbook


def resource_identity(body: Mapping[str, Any]) -> tuple[str, str]:
    """``(playbook id, source)`` of a ``Playbook`` resource from the cluster, as
    :func:`playbook_from_resource` gives them, without validating anything (a deleted resource is
    forgotten by them): ``spec.id``, else ``metadata.name``; ``Playbook/<namespace>/<name>``."""
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    spec = body.get("spec")
    name = str(metadata.get("name") or "")
    given = spec.get("id") if isinstance(spec, Mapping) and "id" in spec else None
    return (name if given is None else str(given)), f"Playbook/{metadata.get('namespace') or '-'}/{name}"


def _resource_envelope(body: Mapping[str, Any], *, file: str, node: yaml.Node | None) -> list[errors.Problem]:
    """A resource read from a file: only the resource's top-level fields, the right apiVersion and
    a name (the operator's watch guarantees all three for resources from the cluster)."""
    problems = [
        errors.Problem(file, yamlsource.line_at(node, (key,)), str(key), f"unknown field {key!r}")
        for key in body
        if key not in _RESOURCE_FIELDS
    ]
    if body.get("apiVersion") != RESOURCE_API_VERSION:
        message = f"apiVersion must be {RESOURCE_API_VERSION!r} for kind Playbook"
        problems.append(
            errors.Problem(file, yamlsource.line_at(node, ("apiVersion",)), "apiVersion", message)
        )
    metadata = body.get("metadata")
    if not isinstance(metadata, Mapping) or not metadata.get("name"):
        line = yamlsource.line_at(node, ("metadata",))
        problems.append(
            errors.Problem(file, line, "metadata.name", "a Playbook resource needs metadata.name")
        )
    return problems


def is_resource(data: object) -> bool:
    """True when a YAML document is a ``Playbook`` custom resource (``kind: Playbook`` with an
    ``apiVersion``) rather than a bare playbook."""
    return isinstance(data, Mapping) and data.get("kind") == "Playbook" and "apiVersion" in data


def _load_file(path: Path) -> tuple[list[Playbook], list[errors.Problem]]:
    """Playbooks and problems of one file; never raises for content problems."""
    file = str(path)
    try:
        documents = yamlsource.read_documents(path)
    except errors.ValidationFailed as exc:
        return [], exc.problems
    if not documents:
        message = "empty file: a playbook file holds one or more playbooks (id, triggers, steps)"
        return [], [errors.Problem(file, 1, "", message)]
    playbooks: list[Playbook] = []
    problems: list[errors.Problem] = []
    for document in documents:
        problems += document.problems
        if not isinstance(document.data, Mapping):
            kind = type(document.data).__name__
            problems.append(
                errors.Problem(file, document.line, "", f"a playbook must be a mapping, not {kind}")
            )
            continue
        if is_resource(document.data):
            try:
                playbooks.append(playbook_from_resource(document.data, file=file, node=document.node))
            except errors.ValidationFailed as exc:
                problems += exc.problems
            continue
        data = dict(document.data)
        problems += _reserved(data, file=file, node=document.node, prefix=())
        found: list[errors.Problem] = []
        try:
            playbooks.append(Playbook.model_validate({**data, "source": file, "line": document.line}))
        except ValidationError as exc:
            found = yamlsource.problems_from_error(exc, file=file, node=document.node)
        problems += _merged(found, _signature_problems(data, file=file, node=document.node, prefix=()))
    return playbooks, problems


def _signature_problems(
    data: Mapping[Any, Any], *, file: str, node: yaml.Node | None, prefix: tuple[str, ...]
) -> list[errors.Problem]:
    """Each step's (and each ``compensate`` block's) params against its action's signature
    (:mod:`aiops.actions.signature`), located at ``steps.N.params.NAME``."""
    steps = data.get("steps")
    if not isinstance(steps, list):
        return []
    problems: list[errors.Problem] = []
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            continue
        for below, block in (((), step), (("compensate",), step.get("compensate"))):
            if not isinstance(block, Mapping):
                continue
            action, params = block.get("action"), block.get("params", {})
            if not isinstance(action, str) or not isinstance(params, Mapping):
                continue
            for found in signature.check_params(action, params, deferred=templating.is_template):
                loc = ("steps", index, *below, "params", *found.loc)
                line = yamlsource.line_at(node, loc)
                problems.append(
                    errors.Problem(file, line, yamlsource.field_path((*prefix, *loc)), found.message)
                )
    return problems


def _merged(model: list[errors.Problem], params: list[errors.Problem]) -> list[errors.Problem]:
    """The schema's problems, then the signature's except for a param the schema already named
    (at it or below it: a broken template inside, a value that is not JSON-like): one message
    per param is enough."""

    def named(field: str) -> bool:
        return any(p.field == field or p.field.startswith(f"{field}.") for p in model)

    return model + [problem for problem in params if not named(problem.field)]


def _reserved(data: dict[Any, Any], *, file: str, node: Any, prefix: tuple[str, ...]) -> list[errors.Problem]:
    """Remove loader-owned keys (``source``, ``line``) from ``data``, one problem for each found."""
    problems = []
    for key in sorted(RESERVED_FIELDS & {k for k in data if isinstance(k, str)}):
        del data[key]
        line = yamlsource.line_at(node, (key,))
        problems.append(
            errors.Problem(file, line, yamlsource.field_path((*prefix, key)), f"unknown field {key!r}")
        )
    return problems


def _duplicate_ids(playbooks: Iterable[Playbook]) -> list[errors.Problem]:
    first: dict[str, Playbook] = {}
    problems = []
    for playbook in playbooks:
        earlier = first.setdefault(playbook.id, playbook)
        if earlier is not playbook:
            message = f"duplicate playbook id {playbook.id!r}: already defined at {earlier.location}"
            problems.append(errors.Problem(playbook.source, playbook.line, "id", message))
    return problems
