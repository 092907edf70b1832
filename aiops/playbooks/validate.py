"""``aiops playbooks validate PATH...``: check playbook and rules files before they reach a cluster.

Fed by: the CLI with paths (files or directories). Consumed by: the CLI, which prints each
:class:`aiops.errors.Problem` as ``file:line: field: message`` and exits non-zero if any.

A file whose (single) document is a mapping with a top-level ``rules`` key is a rules file;
every other file is a playbook file. Rules are checked against the built-in playbooks plus the
playbooks given; a given playbook replaces a built-in of the same id for that check (so
validating an edited copy of a built-in works), while duplicate ids among the given files are
still reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aiops import errors, yamlsource
from aiops.playbooks import loader, registry
from aiops.playbooks.model import Playbook
from aiops.rules import loader as rules_loader

__all__ = ["is_rules_file", "validate_paths"]


def validate_paths(paths: list[Path]) -> list[errors.Problem]:
    """Every problem in the playbook and rules files under ``paths``, sorted by file and line.

    Never raises for file content; a missing path is a problem too. An empty result means valid.
    Raises :class:`aiops.errors.ValidationFailed` only if the installed built-ins are broken.
    """
    files, problems = _files(paths)
    rules_paths = [path for path in files if is_rules_file(path)]
    playbook_paths = [path for path in files if path not in rules_paths]
    given: list[Playbook] = []
    try:
        given = loader.load_playbooks(playbook_paths)
    except errors.ValidationFailed as exc:
        problems += exc.problems
        given = _loadable(playbook_paths)
    lookup = _lookup(given)
    for path in rules_paths:
        try:
            rules_loader.load_rules(path, lookup)
        except errors.ValidationFailed as exc:
            problems += exc.problems
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.field))


def is_rules_file(path: Path) -> bool:
    """True if ``path`` parses to one mapping document with a top-level ``rules`` key."""
    try:
        documents = yamlsource.read_documents(path)
    except errors.ValidationFailed:
        return False
    return len(documents) == 1 and isinstance(documents[0].data, Mapping) and "rules" in documents[0].data


def _files(paths: list[Path]) -> tuple[list[Path], list[errors.Problem]]:
    files: list[Path] = []
    problems: list[errors.Problem] = []
    for path in paths:
        try:
            files += loader.playbook_files([path])
        except errors.ValidationFailed as exc:
            problems += exc.problems
    return files, problems


def _loadable(paths: list[Path]) -> list[Playbook]:
    """The playbooks of the files that load on their own (to check rules despite other problems)."""
    playbooks: list[Playbook] = []
    for path in paths:
        try:
            playbooks += loader.load_playbook_file(path)
        except errors.ValidationFailed:
            continue
    return playbooks


def _lookup(given: list[Playbook]) -> registry.PlaybookRegistry:
    """Built-ins, each replaced by a given playbook of the same id (the first given one wins)."""
    builtins = {pb.id: pb for pb in loader.load_playbooks([registry.builtin_playbook_dir()])}
    given_by_id: dict[str, Playbook] = {}
    for playbook in given:
        given_by_id.setdefault(playbook.id, playbook)
    return registry.PlaybookRegistry({**builtins, **given_by_id}.values())
