"""User extensions of the alert mapping table, from a YAML file (``alertmanager.mapping_file``).

Fed by: settings (the runtime at start-up, ``aiops alerts convert --mapping``). Consumes:
``mapping.parse_rules`` for the schema and ``aiops.yamlsource`` for line numbers, so an invalid
file is refused at start-up with file, line and field, like rules and playbooks.

The file maps alertnames to rules (see docs/alertmanager.md)::

    MyAppDown:
      type: replication_failure
      kind: Deployment
      name_label: deployment
"""

from __future__ import annotations

from pathlib import Path

from aiops import errors, yamlsource
from aiops.sources.alertmanager.mapping import DEFAULT, AlertMapping, parse_rules


def load_mapping(path: Path | None, base: AlertMapping = DEFAULT) -> AlertMapping:
    """``base`` extended by the rules in ``path`` (None: ``base`` unchanged).

    Raises :class:`errors.ValidationFailed` naming file, line and field for each problem.
    """
    if path is None:
        return base
    documents = yamlsource.read_documents(path)
    problems = [p for d in documents for p in d.problems]
    if problems:
        raise errors.ValidationFailed(problems)
    if len(documents) != 1:
        raise errors.ValidationFailed(
            [errors.Problem(str(path), None, "", "expected exactly one YAML document")]
        )
    (document,) = documents
    try:
        rules = parse_rules(document.data, file=str(path))
    except errors.ValidationFailed as exc:
        located = [
            errors.Problem(
                p.file, yamlsource.line_at(document.node, tuple(p.field.split("."))), p.field, p.message
            )
            for p in exc.problems
        ]
        raise errors.ValidationFailed(located) from exc
    return base.with_overrides(rules)
