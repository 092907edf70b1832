"""Prompt templates (Jinja2, rendered in a sandbox with StrictUndefined), shipped as package data.

``rca_system.j2`` / ``rca_user.j2``: the LLM RCA (``aiops.enrichment.rca.llm``). Templates only
arrange text; what goes in (and how untrusted data is quoted and redacted) is decided in Python.
"""
