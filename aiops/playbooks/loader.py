"""Playbooks from YAML files and from ``Playbook`` custom resources, with located errors.

Fed by: the built-in ``playbooks/`` directory, operator-configured directories, and the operator's
watch on ``Playbook`` resources (group ``aiops.dev``, see ``deploy/crds/playbook.yaml``).
Consumed by: :mod:`aiops.playbooks.registry` and ``aiops playbooks validate``.

Every problem is an :class:`aiops.errors.Problem` with file, 1-based line and dotted field path;
a load reports all the problems of all the files at once in one
:class:`aiops.errors.ValidationFailed`, so a user fixes everything in one round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aiops import errors, yamlsource
from aiops.playbooks.model import RESERVED_FIELDS, Playbook

__all__ = ["load_playbook_file", "load_playbooks", "playbook_files", "playbook_from_resource"]

_SUFFIXES = (".yaml", ".yml")


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


def playbook_from_resource(body: Mapping[str, Any]) -> Playbook:
    """The playbook of a ``Playbook`` custom resource body (``apiVersion``, ``metadata``, ``spec``).

    ``spec`` is the playbook; ``spec.id`` defaults to ``metadata.name``. The playbook's
    ``source`` is ``Playbook/<namespace>/<name>`` and ``line`` is ``None``. Raises
    :class:`ValidationFailed` whose problems have ``file`` = that source, no line, and fields
    relative to the resource (``spec.steps.1.risk``), ready for the resource's status.
    """
    metadata = body.get("metadata") or {}
    name = str(metadata.get("name") or "")
    source = f"Playbook/{metadata.get('namespace') or '-'}/{name}"
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        raise errors.ValidationFailed([errors.Problem(source, None, "spec", "must be a mapping")])
    data = dict(spec)
    problems = _reserved(data, file=source, node=None, prefix=("spec",))
    id_defaulted = "id" not in data
    if id_defaulted:
        data["id"] = name
    try:
        home = str(metadata.get("namespace") or "")
        playbook = Playbook.model_validate({**data, "source": source, "line": None, "home_namespace": home})
    except ValidationError as exc:
        for found in yamlsource.problems_from_error(exc, file=source, node=None, prefix=("spec",)):
            if id_defaulted and found.field == "spec.id":
                message = f"{name!r} is not a valid playbook id ({found.message}); set spec.id"
                problems.append(errors.Problem(source, None, "metadata.name", message))
            else:
                problems.append(found)
    if problems:
        raise errors.ValidationFailed(problems)
    return playbook


def _load_file(path: Path) -> tuple[list[Playbook], list[errors.Problem]]:
    """Playbooks and problems of one file; never raises for content problems."""
    file = str(path)
    try:
        documents = yamlsource.read_documents(path)
    except errors.ValidationFailed as exc:
        return [], exc.problems
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
        data = dict(document.data)
        problems += _reserved(data, file=file, node=document.node, prefix=())
        try:
            playbooks.append(Playbook.model_validate({**data, "source": file, "line": document.line}))
        except ValidationError as exc:
            problems += yamlsource.problems_from_error(exc, file=file, node=document.node)
    return playbooks, problems


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
