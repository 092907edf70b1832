"""alertmanager: Alertmanager webhook payloads -> :class:`~aiops.events.model.ClusterEvent` lists.

Fed by: the webhook receiver (``POST /api/webhook/alertmanager``, ``aiops.api.webhook``: it
authenticates, bounds the body, calls :func:`parse_payload` and records each alert durably) and
its intake (``aiops.sources.alertmanager.intake``: :func:`convert` of each recorded alert), and
the ``aiops alerts convert -f payload.json`` CLI (:func:`convert_json`). Consumed by: the
pipeline's ``alert``, the same dedup -> rules -> playbooks path the watch feeds.

Pure and offline: no I/O, no clock. :mod:`.model` is the payload schema (webhook version 4, with
older Alertmanagers normalised); :mod:`.mapping` is the alertname table and resource resolution.
Errors: :func:`parse_payload` raises only :class:`aiops.errors.ValidationFailed`, each problem
located by a dotted field path (``alerts.0.labels.alertname``) in file ``<payload>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import ValidationError

from aiops import errors
from aiops.events import model as events
from aiops.sources.alertmanager import mapping
from aiops.sources.alertmanager.mapping import DEFAULT, AlertMapping, MappingRule, alert_event
from aiops.sources.alertmanager.model import Alert, AlertStatus, Payload, fingerprint

__all__ = [
    "DEFAULT",
    "PAYLOAD_FILE",
    "Alert",
    "AlertMapping",
    "AlertStatus",
    "MappingRule",
    "Payload",
    "alert_event",
    "convert",
    "convert_json",
    "events_as_json_lines",
    "fingerprint",
    "mapping",
    "parse_payload",
]

#: The ``file`` of every :class:`errors.Problem` about a payload.
PAYLOAD_FILE = "<payload>"


def _problems(error: ValidationError) -> list[errors.Problem]:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"])
        problems.append(errors.Problem(PAYLOAD_FILE, None, where, item["msg"]))
    return problems or [errors.Problem(PAYLOAD_FILE, None, "", "invalid payload")]


def parse_payload(data: bytes | str | Mapping[str, object]) -> Payload:
    """Validate one webhook body: raw JSON (bytes or text) or an already decoded object.

    Returns the normalised :class:`Payload`. Raises :class:`errors.ValidationFailed` (and nothing
    else) for invalid JSON, invalid UTF-8, a non-object body, or any schema problem; the problems
    name field paths such as ``alerts.2.startsAt``.
    """
    try:
        if isinstance(data, str):
            data = data.encode("utf-8")
        if isinstance(data, bytes | bytearray):
            return Payload.model_validate_json(data)
        if isinstance(data, Mapping):
            return Payload.model_validate(dict(data))
    except UnicodeError as error:
        raise errors.ValidationFailed(
            [errors.Problem(PAYLOAD_FILE, None, "", f"not UTF-8: {error}")]
        ) from None
    except ValidationError as error:
        raise errors.ValidationFailed(_problems(error)) from None
    except RecursionError:
        raise errors.ValidationFailed([errors.Problem(PAYLOAD_FILE, None, "", "nested too deeply")]) from None
    message = f"expected a JSON object, got {type(data).__name__}"
    raise errors.ValidationFailed([errors.Problem(PAYLOAD_FILE, None, "", message)])


def convert(payload: Payload, mapping: AlertMapping = DEFAULT) -> list[events.ClusterEvent]:
    """One ClusterEvent per alert of ``payload``, in payload order (see :func:`alert_event`)."""
    return [alert_event(alert, mapping, payload=payload) for alert in payload.alerts]


def convert_json(text: bytes | str, mapping: AlertMapping = DEFAULT) -> list[events.ClusterEvent]:
    """:func:`parse_payload` then :func:`convert`: what ``aiops alerts convert -f`` prints.

    Raises :class:`errors.ValidationFailed` for an invalid payload.
    """
    return convert(parse_payload(text), mapping)


def events_as_json_lines(found: list[events.ClusterEvent]) -> str:
    """The events as JSON lines (one ``model_dump(mode="json")`` per line), for the CLI."""
    return "".join(json.dumps(event.model_dump(mode="json"), sort_keys=True) + "\n" for event in found)
