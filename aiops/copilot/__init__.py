"""The SRE copilot: read-only questions about the cluster, by chat commands and typed tools.

Fed by: chat (later: the command text and the LLM's tool calls). Consumes: :mod:`aiops.kube`
(reads only), :mod:`aiops.actions.reads` (describe, events, logs) and
:mod:`aiops.enrichment.scrub` (redaction). One job per module:

* :mod:`aiops.copilot.kinds`: the allow-list of kinds a question may read (never Secrets,
  ServiceAccounts or ConfigMaps);
* :mod:`aiops.copilot.tools`: the fixed registry of read-only tools with JSON schemas and
  :func:`aiops.copilot.tools.call`, which validates, dispatches, redacts and bounds;
* :mod:`aiops.copilot.commands`: the chat command parser (pure, no I/O).
"""
