"""The Alertmanager webhook payload (``version: "4"``), modelled field by field in pydantic v2.

Fed by: :func:`aiops.sources.alertmanager.parse_payload` (bytes, text or a decoded mapping: the
``POST /api/webhook/alertmanager`` receiver, the intake and ``aiops alerts convert``). Consumed by:
:mod:`.mapping`, which turns each :class:`Alert` into a ``ClusterEvent``.

Source of truth: ``/work/shared/data/alertmanager/webhook_format.md``, which quotes Alertmanager
0.34.0 (``notify/webhook/webhook.go`` ``Message``; ``template/template.go`` ``Data`` and ``Alert``)::

    Payload {version, groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels,
             commonAnnotations, externalURL, alerts[], notification_reason?, routeLabels?}
    Alert   {status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint}

Older Alertmanagers and hand-written posts are accepted and normalised here, so the mapping sees
one shape:

* missing ``truncatedAlerts`` (pre-0.21) -> ``0``; missing ``notification_reason`` (pre-0.32) ->
  ``None``; missing ``routeLabels`` (pre-0.34) -> ``{}``; ``null`` for any label or annotation
  map (``commonAnnotations: null``) -> ``{}``;
* a missing per-alert ``status`` -> ``resolved`` when the group is resolved or the alert carries
  a real ``endsAt``, else ``firing`` (``dispatch.go`` zeroes ``endsAt`` of unresolved alerts);
* a missing per-alert ``fingerprint`` -> computed as Alertmanager does (:func:`fingerprint`);
* ``endsAt`` ``0001-01-01T00:00:00Z`` (Go's zero ``time.Time``) or missing -> ``ends_at=None``;
* timestamps are RFC3339Nano with any offset; sub-microsecond digits are truncated and the
  result is converted to UTC;
* ``<no value>`` (what Go's ``text/template`` prints for an absent label) is removed from
  annotation text; an annotation left empty is dropped. ``message`` (old kubernetes-mixin)
  stands in for ``description`` through :attr:`Alert.description`.

Unknown extra fields are ignored (Alertmanager adds fields over versions); known fields are
strict: strings must be JSON strings, counts JSON integers, label values strings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
    model_validator,
)

__all__ = ["Alert", "AlertStatus", "Payload", "fingerprint", "normalise_text", "parse_time"]


class AlertStatus(StrEnum):
    """``status`` of a group or of one alert (``template/template.go``)."""

    FIRING = "firing"
    RESOLVED = "resolved"


#: RFC3339 with up to nanosecond precision (Go's ``time.RFC3339Nano``); ``T`` or a space between
#: date and time (RFC3339 section 5.6 allows the space), ``Z`` or a numeric offset required.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.(?P<frac>\d{1,9}))?(?P<tz>[Zz]|[+-]\d{2}:\d{2})"
)

#: What Go's ``text/template`` renders for a missing map key, e.g. ``{{ $labels.cluster }}``.
NO_VALUE = "<no value>"


def parse_time(value: str) -> datetime | None:
    """An RFC3339(Nano) timestamp as aware UTC; ``None`` for Go's zero time (year 1).

    Raises ``ValueError`` for anything else (no offset, date only, out-of-range fields).
    Fractions beyond microseconds are truncated (``.095800493`` -> ``.095800``).
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("expected an RFC3339 timestamp such as 2024-05-01T12:00:00.123Z")
    text = value.upper().replace(" ", "T")
    frac = match.group("frac")
    if frac is not None and len(frac) > 6:
        text = text.replace(f".{frac}", f".{frac[:6]}", 1)
    if text.startswith("0001-01-01T"):
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC)


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's alert fingerprint: 16 lowercase hex chars of FNV-1a 64 over the label set.

    As ``prometheus/common`` ``model.LabelSet.Fingerprint()`` (``labelSetToFingerprint``): label
    names sorted, each pair hashed as ``name 0xff value 0xff``; an empty set hashes to the FNV
    offset basis. Printed as ``%016x`` (webhook_format.md, ``alerts[].fingerprint``).
    """
    value = 0xCBF29CE484222325  # FNV-1a 64 offset basis
    for name in sorted(labels):
        for byte in name.encode() + b"\xff" + labels[name].encode() + b"\xff":
            value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)\]])")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\"\s*\"")
_SPACES = re.compile(r"[ \t]{2,}")


def normalise_text(text: str) -> str:
    """``text`` without ``<no value>`` and the debris it leaves (``()``, `` .``, double spaces)."""
    if NO_VALUE not in text:
        return text.strip()
    text = text.replace(NO_VALUE, "")
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text.strip()


def _null_is_empty(value: object) -> object:
    """``null`` label/annotation maps (hand-written posts) become ``{}``."""
    return {} if value is None else value


LabelMap = Annotated[dict[StrictStr, StrictStr], BeforeValidator(_null_is_empty)]


def _time_or_none(value: object) -> datetime | None:
    """Validate one timestamp field: a JSON string in RFC3339; ``null``/missing -> ``None``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError("expected an RFC3339 timestamp string")
    return parse_time(value)


_FINGERPRINT = re.compile(r"[0-9a-f]{16}")


class Alert(BaseModel):
    """One alert of a notification (``template.Alert``).

    ``labels`` always hold ``alertname``. ``starts_at`` is aware UTC; ``ends_at`` is ``None``
    while firing (Go zero time) and the resolve time once resolved. ``fingerprint`` is 16
    lowercase hex chars, Alertmanager's or computed the same way.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    status: AlertStatus
    labels: LabelMap
    annotations: LabelMap = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: StrictStr = Field(default="", alias="generatorURL")
    fingerprint: StrictStr

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        """Derive a missing ``status`` from ``endsAt`` and a missing ``fingerprint`` from labels."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("status") is None:
            ends = data.get("endsAt")
            try:
                ended = isinstance(ends, str) and parse_time(ends) is not None
            except ValueError:
                ended = False  # the endsAt field itself reports the problem
            data["status"] = AlertStatus.RESOLVED.value if ended else AlertStatus.FIRING.value
        labels = data.get("labels")
        plain = isinstance(labels, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        )
        if not data.get("fingerprint") and plain:
            data["fingerprint"] = fingerprint(labels)
        return data

    @field_validator("starts_at", mode="before")
    @classmethod
    def _starts(cls, value: object) -> datetime:
        parsed = _time_or_none(value)
        if parsed is None:
            raise ValueError("startsAt: a firing time is required (not null or the zero time)")
        return parsed

    @field_validator("ends_at", mode="before")
    @classmethod
    def _ends(cls, value: object) -> datetime | None:
        return _time_or_none(value)

    @field_validator("labels")
    @classmethod
    def _has_alertname(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("alertname"):
            raise ValueError("an alert needs a non-empty 'alertname' label")
        return value

    @field_validator("annotations")
    @classmethod
    def _clean_annotations(cls, value: dict[str, str]) -> dict[str, str]:
        cleaned = {name: normalise_text(text) for name, text in value.items()}
        return {name: text for name, text in cleaned.items() if text}

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint_shape(cls, value: str) -> str:
        if _FINGERPRINT.fullmatch(value) is None:
            raise ValueError("expected 16 lowercase hex characters, as Alertmanager prints it")
        return value

    @property
    def alertname(self) -> str:
        """The ``alertname`` label."""
        return self.labels["alertname"]

    @property
    def description(self) -> str:
        """``description``, else ``message`` (old kubernetes-mixin), else ``""``."""
        return self.annotations.get("description") or self.annotations.get("message") or ""

    @property
    def text(self) -> str:
        """The best human text: description / message / summary, first non-empty."""
        return self.description or self.annotations.get("summary", "")


class Payload(BaseModel):
    """One webhook notification (``webhook.Message`` embedding ``template.Data``).

    ``status`` is ``firing`` when any alert is firing. ``group_key`` identifies the aggregation
    group (``<route matchers>:<group labels>``); with each alert's ``fingerprint`` and
    ``starts_at`` it makes the idempotency key of a delivery. ``truncated_alerts`` counts alerts
    cut by ``max_alerts``. ``receiver`` arrives regexp-quoted (``web\\.hook``).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    version: StrictStr = "4"
    group_key: StrictStr = Field(default="", alias="groupKey")
    truncated_alerts: Annotated[int, Field(strict=True, ge=0)] = Field(default=0, alias="truncatedAlerts")
    status: AlertStatus
    receiver: StrictStr = ""
    group_labels: LabelMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: StrictStr = Field(default="", alias="externalURL")
    alerts: list[Alert]
    notification_reason: StrictStr | None = None
    route_labels: LabelMap = Field(default_factory=dict, alias="routeLabels")

    @model_validator(mode="before")
    @classmethod
    def _group_status_applies(cls, data: Any) -> Any:
        """In a resolved group every alert is resolved: fill missing per-alert statuses so."""
        if not isinstance(data, dict) or data.get("status") != AlertStatus.RESOLVED.value:
            return data
        alerts = data.get("alerts")
        if not isinstance(alerts, list):
            return data
        filled = [
            {**alert, "status": AlertStatus.RESOLVED.value}
            if isinstance(alert, dict) and alert.get("status") is None
            else alert
            for alert in alerts
        ]
        return {**data, "alerts": filled}

    @field_validator("common_annotations")
    @classmethod
    def _clean_annotations(cls, value: dict[str, str]) -> dict[str, str]:
        cleaned = {name: normalise_text(text) for name, text in value.items()}
        return {name: text for name, text in cleaned.items() if text}
