"""Tests of playbooks: schema, loading, templating, registry, resources and the built-ins."""
