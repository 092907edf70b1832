"""Playbooks: the schema (``model``), YAML and custom-resource loading (``loader``), the registry,
sandboxed param templating (``templating``), validation for the CLI (``validate``) and, from the
lead, the executor and runs."""
