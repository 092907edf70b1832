"""YAML documents that remember where every value came from, for ``file:line: field: message`` errors.

Fed by: playbook files, the rules file and ``aiops playbooks validate``. Consumed by:
``aiops.playbooks.loader`` and ``aiops.rules.loader``, which validate :attr:`Document.data` with
pydantic and turn a :class:`pydantic.ValidationError` into located :class:`aiops.errors.Problem`
objects with :func:`problems_from_error`.

No YAML parsing of our own: PyYAML composes the node tree (each node has a ``start_mark``) and
constructs the data from those very nodes with ``SafeLoader``, exactly as ``yaml.safe_load_all``
would, so data and line numbers never disagree. A pydantic error ``loc`` such as
``('steps', 1, 'risk')`` is walked down the node tree to the deepest node that exists: the key's
line for a mapping entry, the item's line for a list item, the parent's line for a missing field.

Validators that can name a place below their own field raise :func:`located_error`; the extra
path it carries is appended to the pydantic ``loc`` here.

Aliases are bounded: a document whose anchors and aliases (``&a``/``*a``) expand to more than
:data:`MAX_EXPANDED_VALUES` values ("billion laughs"), or an alias inside its own anchor, is
refused at the offending place before anything is built from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from aiops import errors

__all__ = [
    "MAX_EXPANDED_VALUES",
    "Document",
    "field_path",
    "line_at",
    "located_error",
    "node_at",
    "parse_data",
    "parse_documents",
    "problems_from_error",
    "read_documents",
]

Loc = Sequence[str | int]

_LOC_SUFFIX = "loc_suffix"

#: Most values (scalars, lists, mappings) one document may stand for with every alias expanded.
#: A playbook or rules file has a few hundred; a "billion laughs" alias bomb has billions.
MAX_EXPANDED_VALUES = 100_000
#: Where expanded sizes stop being counted exactly (keeps the arithmetic on machine-sized ints).
_HUGE = 2**62


@dataclass(frozen=True)
class Document:
    """One YAML document: the safe-loaded ``data``, its ``node`` tree and ``problems`` found while reading.

    ``problems`` holds duplicate mapping keys (YAML silently keeps the last one, which hides
    mistakes), located like every other problem.
    """

    data: object
    node: yaml.Node
    problems: tuple[errors.Problem, ...] = field(default=())

    @property
    def line(self) -> int:
        """1-based line where the document's content starts."""
        return int(self.node.start_mark.line) + 1


def parse_documents(text: str, *, file: str) -> list[Document]:
    """Every non-empty document of ``text``, in order.

    Raises :class:`aiops.errors.ValidationFailed` with one problem at the offending line for a
    YAML syntax error (a file that does not parse has no other checkable content).
    """
    loader = yaml.SafeLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
                continue  # an empty document, e.g. a trailing ``---``
            _check_expansion(node, file=file)
            data = loader.construct_document(node)
            documents.append(Document(data, node, tuple(_duplicate_keys(node, file=file, path=()))))
    except yaml.YAMLError as exc:
        raise _located(exc, file=file, syntax="YAML syntax error") from exc
    finally:
        loader.dispose()
    return documents


def parse_data(text: str, *, file: str) -> list[object]:
    """The data of every document of ``text`` (JSON or YAML), as ``yaml.safe_load_all`` gives it, but
    with alias expansion bounded: at most :data:`MAX_EXPANDED_VALUES` values beyond those written
    out. Unlike :func:`parse_documents` the size of what is written out is not bounded, so a
    ``kubectl get pods -A -o json`` dump of a large cluster reads whole.

    Raises :class:`aiops.errors.ValidationFailed` (one problem at the offending line) for a syntax
    error, an alias bomb or an alias inside its own anchor.
    """
    loader = yaml.SafeLoader(text)
    data: list[object] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            sizes = _expanded_sizes(node, file=file, cap=_HUGE)
            extra = sizes[id(node)] - len(sizes)
            if extra > MAX_EXPANDED_VALUES:
                line = int(node.start_mark.line) + 1
                message = (
                    f"YAML aliases (*name) add {extra} values to this document, more than "
                    f"{MAX_EXPANDED_VALUES} (an alias bomb?); write the values out or use fewer aliases"
                )
                raise errors.ValidationFailed([errors.Problem(file, line, "", message)])
            data.append(loader.construct_document(node))
    except yaml.YAMLError as exc:
        raise _located(exc, file=file, syntax="not valid JSON or YAML") from exc
    finally:
        loader.dispose()
    return data


def _located(exc: yaml.YAMLError, *, file: str, syntax: str) -> errors.ValidationFailed:
    """PyYAML's error as one located problem: ``syntax: what`` at the line of a marked (syntax)
    error, else ``YAML error: ...`` for the whole file."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"{syntax}: {exc.problem or exc.context or exc}"
        return errors.ValidationFailed([errors.Problem(file, line, "", message)])
    return errors.ValidationFailed([errors.Problem(file, None, "", f"YAML error: {exc}")])


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, *, file: str) -> None:
    """Refuse a document whose aliases expand past :data:`MAX_EXPANDED_VALUES` values, or loop.

    Counts each node once per use (an alias counts its anchor's whole subtree) without expanding
    anything: sizes are memoised per node, so the work is linear in the composed tree. Raises
    :class:`aiops.errors.ValidationFailed` located at the smallest value whose expansion is over
    the limit (where the aliases pile up).
    """
    sizes = _expanded_sizes(root, file=file, cap=MAX_EXPANDED_VALUES + 1)
    if sizes[id(root)] <= MAX_EXPANDED_VALUES:
        return
    node, path = root, []
    while True:
        child_at = _heavy_child(node, sizes)
        if child_at is None:
            break
        node, part = child_at
        path.append(part)
    message = (
        f"YAML aliases (*name) expand this value to more than {MAX_EXPANDED_VALUES} values "
        "(an alias bomb?); write the values out or use fewer aliases"
    )
    line = int(node.start_mark.line) + 1
    raise errors.ValidationFailed([errors.Problem(file, line, field_path(path), message)])


def _expanded_sizes(root: yaml.Node, *, file: str, cap: int) -> dict[int, int]:
    """``id(node)`` → how many values the node stands for with every alias expanded (at most
    ``cap``), for every node under ``root``; ``len`` of the result is the number of distinct nodes.

    Linear in the composed tree: sizes are memoised per node. Raises ValidationFailed for an alias
    inside its own anchor (an endless value).
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = min(size, cap)
            open_nodes.discard(key)
            continue
        if key in sizes:
            continue
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                line = int(child.start_mark.line) + 1
                message = "a YAML alias refers to the anchor it is inside of (an endless value); remove it"
                raise errors.ValidationFailed([errors.Problem(file, line, "", message)])
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes


def _heavy_child(node: yaml.Node, sizes: dict[int, int]) -> tuple[yaml.Node, str | int] | None:
    """The first child of ``node`` (with its key or index) whose expansion alone is over the limit."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if sizes[id(value)] > MAX_EXPANDED_VALUES:
                return value, str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            if sizes[id(item)] > MAX_EXPANDED_VALUES:
                return item, index
    return None


def read_documents(path: Path) -> list[Document]:
    """:func:`parse_documents` of a UTF-8 file; unreadable files raise ValidationFailed too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.ValidationFailed([errors.Problem(str(path), None, "", f"cannot read: {exc}")]) from exc
    return parse_documents(text, file=str(path))


def field_path(loc: Loc) -> str:
    """``('steps', 1, 'risk')`` → ``"steps.1.risk"``; the empty loc is ``""`` (the document root)."""
    return ".".join(str(part) for part in loc)


def node_at(node: yaml.Node | None, loc: Loc) -> yaml.Node | None:
    """The node at ``loc`` under ``node`` (mapping keys by their text, list items by index), or
    ``None`` when ``loc`` leaves the tree or there is no node."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next(
                (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return None
    return node


def line_at(node: yaml.Node | None, loc: Loc) -> int | None:
    """1-based line of the deepest node along ``loc`` under ``node``; ``None`` without a node.

    A mapping entry is located at its key, a list item at the item; where ``loc`` leaves the
    tree (a missing field) the last node reached is used.
    """
    if node is None:
        return None
    line = int(node.start_mark.line)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = int(key.start_mark.line), value
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = int(node.start_mark.line)
        else:
            break
    return line + 1


def located_error(message: str, *below: str | int) -> PydanticCustomError:
    """An error for a validator to raise whose place is ``below`` the field being validated.

    ``raise located_error("duplicate step name", 2, "name")`` in a validator of ``steps``
    yields the problem field ``steps.2.name`` at that key's line.
    """
    return PydanticCustomError("aiops", "{message}", {"message": message, _LOC_SUFFIX: tuple(below)})


def problems_from_error(
    exc: ValidationError, *, file: str, node: yaml.Node | None, prefix: Loc = ()
) -> list[errors.Problem]:
    """One located problem per pydantic error.

    ``node`` is the YAML node the validated data came from (``None`` for data without a file,
    e.g. a custom resource: every line is then ``None``). ``prefix`` is prepended to each field
    path only (``("spec",)`` for a custom resource whose spec was validated).
    """
    problems: list[errors.Problem] = []
    details = exc.errors()
    for error in details:
        if _restates_item_errors(error, details):
            continue
        ctx = error.get("ctx") or {}
        loc: tuple[str | int, ...] = (*error["loc"], *ctx.get(_LOC_SUFFIX, ()))
        problems.append(
            errors.Problem(file, line_at(node, loc), field_path((*prefix, *loc)), _message(error, loc))
        )
    return problems


def _restates_item_errors(error: ErrorDetails, details: list[ErrorDetails]) -> bool:
    """A tuple's ``too_short`` error counts only the items that validated; when items failed, it
    merely restates their errors (``steps: Tuple should have at least 1 item``), so it is dropped."""
    if error["type"] != "too_short":
        return False
    loc = error["loc"]
    return any(len(d["loc"]) > len(loc) and d["loc"][: len(loc)] == loc for d in details)


def _message(error: ErrorDetails, loc: Loc) -> str:
    if error["type"] == "extra_forbidden" and loc:
        return f"unknown field {str(loc[-1])!r}"
    return error["msg"]


def _duplicate_keys(
    node: yaml.Node, *, file: str, path: tuple[str | int, ...], seen_nodes: set[int] | None = None
) -> list[errors.Problem]:
    """Duplicate mapping keys under ``node``; each node is visited once (aliases may share or recurse)."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return []
    seen_nodes.add(id(node))
    problems: list[errors.Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = int(key.start_mark.line) + 1
            if key.value in seen and key.value != "<<":
                message = (
                    f"duplicate key {key.value!r} (first at line {seen[key.value]}); YAML keeps the last"
                )
                problems.append(errors.Problem(file, line, field_path((*path, key.value)), message))
            seen.setdefault(key.value, line)
            problems += _duplicate_keys(value, file=file, path=(*path, key.value), seen_nodes=seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, file=file, path=(*path, index), seen_nodes=seen_nodes)
    return problems
