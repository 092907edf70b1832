"""Reading Kubernetes objects from files: JSON or multi-document YAML, ``List`` kinds flattened.

Fed by: ``aiops detect -f FILE|-`` and ``aiops rca -f FILE --events FILE`` (``kubectl get -o json``
/ ``-o yaml`` output, manifests, JSON arrays of objects).
Consumes: PyYAML's safe loader (JSON is YAML 1.2, so one loader reads both).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from aiops.errors import ConfigError


def iter_objects(text: str, *, source: str = "<stdin>") -> Iterator[dict[str, Any]]:
    """Yield every object in ``text``: documents in order, the ``items`` of any ``*List`` kind,
    the elements of a top-level array (``jq -s`` output, a JSON array of Events).

    Items of a typed list (``PodList`` from the API, whose items lack ``kind``) get the kind
    from the list's name. Raises ConfigError naming ``source`` and the line on a syntax error.
    """
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: not valid JSON or YAML: {getattr(exc, 'problem', exc)}") from exc
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
