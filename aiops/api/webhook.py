"""``POST /api/webhook/alertmanager``: the Alertmanager webhook receiver.

Fed by: Alertmanager's ``webhook_configs`` (payload version 4, see
``aiops.sources.alertmanager.model``). Consumes: the alert intake, which records every alert of
a payload durably (one atomic Redis step) before this route answers 2xx.

Status codes, as Alertmanager reads them (it retries 5xx until group_interval runs out, and
drops 4xx): 200 recorded (``{"recorded": n, "duplicates": m}``); 400 not JSON; 401 missing or
wrong credentials (or none configured); 413 body over ``max_body_bytes``; 422 valid JSON that is
not a webhook payload, with every field at fault; 503 Redis unavailable or the intake backlog
full (so it retries). Bad input never yields a 5xx. Errors are problem+json bodies
(``aiops.api.problems``): 400 and 422 list the fields at fault in ``errors``.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from aiops import errors
from aiops.api import problems
from aiops.settings import AlertmanagerSettings
from aiops.sources.alertmanager import intake as intake_mod
from aiops.sources.alertmanager import parse_payload


def _same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


class WebhookAuth:
    """Checks ``Authorization`` against the configured bearer token and/or basic credentials."""

    def __init__(self, settings: AlertmanagerSettings) -> None:
        self._token = settings.token.get_secret_value() if settings.token else None
        self._user = settings.username
        self._password = settings.password.get_secret_value() if settings.password else None
        self._open = settings.allow_unauthenticated

    def check(self, header: str) -> None:
        """Raise 401 unless the header carries accepted credentials."""
        if self._token is None and self._user is None:
            if self._open:
                return
            raise HTTPException(
                401, "webhook authentication is not configured (set AIOPS_ALERTMANAGER__TOKEN)"
            )
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self._token is not None and _same(value, self._token):
            return
        if scheme.lower() == "basic" and self._user is not None and self._password is not None:
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if _same(user, self._user) & _same(password, self._password):
                return
        raise HTTPException(
            401, "invalid or missing credentials", headers={"WWW-Authenticate": "Bearer, Basic"}
        )


def build_router(intake: intake_mod.Intake, settings: AlertmanagerSettings) -> APIRouter:
    """The receiver route; ``intake.record`` is called only for an authenticated, valid payload."""
    router = APIRouter()
    auth = WebhookAuth(settings)
    limit = settings.max_body_bytes

    @router.post(
        "/webhook/alertmanager", tags=["alerts"], responses=problems.responses(400, 401, 413, 422, 503)
    )
    async def receive(request: Request) -> JSONResponse:
        auth.check(request.headers.get("authorization", ""))
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"payload over {limit} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise HTTPException(413, f"payload over {limit} bytes")
        try:
            payload = parse_payload(bytes(body))
        except errors.ValidationFailed as exc:
            invalid = [
                problems.InvalidField(field=p.field, location="body", message=p.message) for p in exc.problems
            ]
            not_json = any(p.field == "" and p.message.startswith("Invalid JSON") for p in exc.problems)
            return problems.response(
                400 if not_json else 422,
                "not JSON" if not_json else "not an Alertmanager webhook payload",
                request=request,
                invalid=invalid,
            )
        try:
            recorded, duplicates = await intake.record(payload, bytes(body))
        except errors.TemporaryError as exc:  # Redis down, or the intake backlog is full
            return problems.response(503, f"cannot record alerts now: {exc}", request=request)
        return JSONResponse({"recorded": recorded, "duplicates": duplicates})

    return router
