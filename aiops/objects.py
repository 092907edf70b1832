"""Reading Kubernetes objects from files: JSON or multi-document YAML, ``List`` kinds flattened.

Fed by: ``aiops detect -f FILE|-`` and ``aiops rca -f FILE --events FILE`` (``kubectl get -o json``
/ ``-o yaml`` output, manifests, JSON arrays of objects).
Consumes: :func:`aiops.yamlsource.parse_data` (PyYAML's safe loader, JSON being YAML 1.2, with
alias expansion bounded so a crafted file cannot exhaust memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiops import yamlsource
from aiops.errors import ConfigError, ValidationFailed


def iter_objects(text: str, *, source: str = "<stdin>") -> Iterator[dict[str, Any]]:
    """Yield every object in ``text``: documents in order, the ``items`` of any ``*List`` kind,
    the elements of a top-level array (``jq -s`` output, a JSON array of Events).

    Items of a typed list (``PodList`` from the API, whose items lack ``kind``) get the kind
    from the list's name. Raises ConfigError naming ``source`` and the line on a syntax error or an
    alias bomb (:data:`aiops.yamlsource.MAX_EXPANDED_VALUES`).
    """
    try:
        documents = yamlsource.parse_data(text, file=source)
    except ValidationFailed as exc:
        where = [f"{p.file}:{p.line}" if p.line is not None else p.file for p in exc.problems]
        raise ConfigError(
            "\n".join(f"{w}: {p.message}" for w, p in zip(where, exc.problems, strict=True))
        ) from exc
    for document in documents:
        yield from _flatten(document)


def _flatten(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, list):
        for item in document:
            if isinstance(item, dict):
                yield from _flatten(item)
        return
    if not isinstance(document, dict):
        return
    kind = str(document.get("kind", ""))
    items = document.get("items")
    if kind.endswith("List") and isinstance(items, list):
        item_kind = kind[: -len("List")] if kind != "List" else None
        for item in items:
            if not isinstance(item, dict):
                continue
            if item_kind and "kind" not in item:
                yield from _flatten(
                    {"kind": item_kind, "apiVersion": document.get("apiVersion", "v1"), **item}
                )
            else:
                yield from _flatten(item)
        return
    yield document
