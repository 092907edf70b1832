"""Scrubbing: JSON-like data in, the same data out with every secret replaced, before it is stored.

Fed by: everything that stores what came from the cluster: the run store (step outputs, API calls,
plans, errors, escalations), the enrichment store, the approval gate and the audit log (both given
:meth:`Scrubber.__call__` by the runtime), and the pipeline (each event's message, reason, labels
and details before the incident keeps it), and the alert intake (each Alertmanager webhook body
before it is recorded, :meth:`Scrubber.json_bytes`). Consumed by: those stores; nothing reads the clear data
back, so the API, the CLI and chat only ever see scrubbed values. :class:`LogScrubber` does the
same for log lines (``aiops run`` attaches it to its log handler).

Text goes through :class:`aiops.enrichment.redact.Redactor` (docs/redaction.md), a text of several
lines through ``redact_lines`` so its line count stays. Structure that
text rules cannot judge is handled by shape:

- ``secret_data``: every value of ``data``/``stringData`` of a Kubernetes ``Secret`` (Secret v1
  API reference), wherever the object appears (a describe, a list, an annotation).
- ``env_value``: the literal ``value`` of an ``EnvVar`` (and an ``HTTPHeader``): a dict whose keys
  are ``name``, ``value`` and optionally ``valueFrom`` (Container v1 API reference). Any name can
  hold a secret (``DB_PASS``, ``SIGNING_SALT``), so every literal value is elided; names and
  ``valueFrom`` references stay. The same for a JSON-patch operation (RFC 6902) whose ``path``
  ends in ``/env/N/value`` or ``/httpHeaders/N/value``.
- a string value under a key that labels a secret (``password``, ``apiKey``, ``token``…) is
  redacted as the text ``"key": "value"`` would be.
- a string that holds a JSON object or array (``kubectl.kubernetes.io/last-applied-configuration``
  holds the whole object, Secret data and env included) is parsed, scrubbed and written back.

Guarantees: never raises on JSON-compatible data; the shape (keys, list lengths, types other than
``str``) is kept, so a scrubbed model validates again; idempotent (``s(s(x)) == s(x)``), so an
approved plan and a fresh one compare equal after both are scrubbed.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, TypeVar

from pydantic import BaseModel

from aiops.enrichment.redact import Redactor, marker
from aiops.events.model import ClusterEvent

__all__ = ["ENV_VALUE", "SECRET_DATA", "LogScrubber", "Scrubber"]

#: What an ``EnvVar``/``HTTPHeader`` literal value becomes.
ENV_VALUE = marker("env_value")
#: What each value of a Secret's ``data``/``stringData`` becomes.
SECRET_DATA = marker("secret_data")

_NAME_VALUE_KEYS = frozenset({"name", "value", "valueFrom"})
_PATCH_VALUE_PATH = re.compile(r"/(?:env|httpHeaders)/\d+/value$")
#: Lower-case fragments of keys whose string value the redactor judges together with the key.
_LABEL_HINTS = ("pass", "pwd", "secret", "token", "key", "auth", "credential", "sig", "session", "cookie")
_LABEL_HINT = re.compile("|".join(_LABEL_HINTS))
#: Longest string parsed as embedded JSON (last-applied-configuration is capped at 256 KiB by kubectl).
_MAX_EMBEDDED_JSON = 1024 * 1024

M = TypeVar("M", bound=BaseModel)


class Scrubber:
    """Replaces secrets in JSON-compatible data (see the module docstring).

    ``redactor``: the text redactor (built from ``enrichment.redact_patterns``); a default one
    when None. Calling the scrubber returns a scrubbed copy; the input is never modified.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        self._redactor = redactor or Redactor()

    def __call__(self, value: Any) -> Any:
        """A copy of ``value`` (dicts, lists, str, numbers, bools, None) with every secret replaced."""
        return self._value(value)

    def text(self, text: str) -> str:
        """``text`` with every secret replaced (the redactor, plus embedded JSON documents)."""
        return self._str(text)

    def json_bytes(self, body: bytes) -> bytes:
        """A JSON document (UTF-8 bytes, e.g. an Alertmanager webhook payload as received) with
        every secret replaced; the same bytes when nothing was, or when ``body`` is not JSON."""
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if self._nothing_to_scrub(data):
            return body
        scrubbed = self._value(data)
        if scrubbed == data:
            return body
        return json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":")).encode()

    def model(self, model: M) -> M:
        """A scrubbed copy of a pydantic model (dumped as JSON data, scrubbed, validated again)."""
        return type(model).model_validate(self._value(model.model_dump(mode="json")))

    def event(self, event: ClusterEvent) -> ClusterEvent:
        """``event`` with its message, reason, label values and string details scrubbed.

        The resource, owner and fingerprint are kept: they name the problem (dedup keys)."""
        details = {k: self._str(v) if isinstance(v, str) else v for k, v in event.details.items()}
        update = {
            "message": self._str(event.message),
            "reason": self._str(event.reason),
            "labels": {k: self._str(v) for k, v in event.labels.items()},
            "details": details,
        }
        changed = {k: v for k, v in update.items() if v != getattr(event, k)}
        return event.model_copy(update=changed) if changed else event

    # ------------------------------------------------------------------ the walk

    def _nothing_to_scrub(self, data: Any) -> bool:
        """True when scrubbing ``data`` would certainly change nothing, judged in one batch.

        Every string leaf (and every ``"key": "value"`` pair whose key labels a secret) goes
        through the redactor's bulk path (:meth:`Redactor.redact_lines`, one prefilter pass for the
        lot) instead of one :meth:`Redactor.redact` call each. Anything the batch cannot judge
        exactly (a string of several lines or holding JSON, an env var or Secret shape) answers
        False, and the caller takes the full walk: this is only ever a shortcut to "unchanged".
        """
        lines: list[str] = []
        stack: list[Any] = [data]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                if value.get("kind") == "Secret" or _is_env_var(value) or _is_patch_of_value(value):
                    return False
                for key, item in value.items():
                    if isinstance(item, str) and isinstance(key, str) and _LABEL_HINT.search(key.lower()):
                        lines.append(json.dumps({key: item}))
                    stack.append(item)
            elif isinstance(value, list | tuple):
                stack.extend(value)
            elif isinstance(value, str):
                if "\n" in value or "\r" in value or _embedded_json(value) is not None:
                    return False
                lines.append(value)
        return self._redactor.redact_lines(lines) == lines

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._str(value)
        if isinstance(value, dict):
            return self._dict(value)
        if isinstance(value, list | tuple):
            return [self._value(item) for item in value]
        return value

    def _dict(self, obj: dict[Any, Any]) -> dict[Any, Any]:
        if _is_env_var(obj) or _is_patch_of_value(obj):
            return {k: (ENV_VALUE if k == "value" else self._value(v)) for k, v in obj.items()}
        secret = obj.get("kind") == "Secret"
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if secret and key in ("data", "stringData") and isinstance(value, dict):
                out[key] = dict.fromkeys(value, SECRET_DATA)
            elif isinstance(value, str) and isinstance(key, str):
                out[key] = self._labelled(key, value)
            else:
                out[key] = self._value(value)
        return out

    def _labelled(self, key: str, value: str) -> str:
        """``value`` scrubbed, judged with its key when the key may label a secret."""
        if _LABEL_HINT.search(key.lower()) and value.lower() not in ("", "true", "false"):
            pair = self._redactor.redact(json.dumps({key: value}))
            if pair != json.dumps({key: value}):
                try:
                    judged = json.loads(pair)
                except ValueError:
                    judged = None
                if isinstance(judged, dict) and isinstance(judged.get(key), str):
                    return self._str(judged[key])
        return self._str(value)

    def _str(self, text: str) -> str:
        embedded = _embedded_json(text)
        if embedded is not None:
            scrubbed = self._value(embedded)
            if scrubbed == embedded:
                return text
            return json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":"))
        if "\n" in text:  # a log: line by line, so the line count stays (PEM blocks included)
            return "\n".join(self._redactor.redact_lines(text.split("\n")))
        return self._redactor.redact(text)


def _embedded_json(text: str) -> dict[Any, Any] | list[Any] | None:
    """The JSON object or array ``text`` holds whole (``last-applied-configuration``), else None."""
    stripped = text.strip()
    if not 2 <= len(stripped) <= _MAX_EMBEDDED_JSON or (stripped[0], stripped[-1]) not in (
        ("{", "}"),
        ("[", "]"),
    ):
        return None
    try:
        embedded = json.loads(stripped)
    except ValueError:
        return None
    return embedded if isinstance(embedded, dict | list) else None


def _is_env_var(obj: dict[Any, Any]) -> bool:
    """An ``EnvVar`` or ``HTTPHeader``: ``name`` and a string ``value``, nothing but ``valueFrom`` besides."""
    return "name" in obj and isinstance(obj.get("value"), str) and obj.keys() <= _NAME_VALUE_KEYS


def _is_patch_of_value(obj: dict[Any, Any]) -> bool:
    """A JSON-patch operation (RFC 6902) that sets one env var's or header's literal value."""
    path = obj.get("path")
    return (
        "op" in obj
        and isinstance(path, str)
        and isinstance(obj.get("value"), str)
        and _PATCH_VALUE_PATH.search(path) is not None
    )


class LogScrubber(logging.Filter):
    """A logging filter that redacts each record's message (arguments merged in) before any
    handler formats it: a cluster's text quoted in a log line (an API error, an escalation reason)
    keeps no secret. Attach it to the handlers that write logs out. Never drops a record."""

    def __init__(self, scrubber: Scrubber | None = None) -> None:
        super().__init__()
        self._scrubber = scrubber or Scrubber()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: leave it to logging's own error report
            return True
        scrubbed = self._scrubber.text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True
