"""A corpus of planted secrets, one per kind, each unique so a scan can name the one that leaked.

``PLANTED`` maps a kind to the secret value itself (what must never appear anywhere);
``LOG_LINES`` are log lines that carry them the way applications print them; ``ENV`` are container
env vars whose literal values are secrets no text rule could recognise by shape. Formats follow the
sources named in docs/redaction.md (AWS IAM identifiers, RFC 6750/7519, RFC 3986, GitHub and Slack
token prefixes, RFC 7468 PEM armor).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

AWS_KEY_ID = "AKIAQ3EGRTZ7PLANTED1"
AWS_SECRET = "pLaNtEd/AwsSecret+Key0123456789abcdefGHI"
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InBsYW50ZWQifQ"
    ".eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDpwbGFudGVkIn0"
    ".UGxhbnRlZFNpZ25hdHVyZUJ5dGVzMDEyMzQ1"
)
URL_PASSWORD = "Pl4ntedUrlPassw0rd"
PASSWORD = "Pl4ntedKvPassw0rd"
GITHUB = "ghp_" + "PlAnTeD0123456789abcdefghijklmnopqrs"
PRIVATE_KEY_BODY = "MIIEpAIBAAKCAQEAplantedPrivateKeyBodyLine0123456789ABCDEFGH"
SLACK = "xoxb-1234567890-0987654321-PlantedSlackBotToken"
ENV_SECRET = "envLiteralPlantedValue-7f3a9c"
HEADER_SECRET = "hdrPlantedOpaqueValue-51be"

PLANTED: dict[str, str] = {
    "aws_access_key_id": AWS_KEY_ID,
    "aws_secret_access_key": AWS_SECRET,
    "jwt": JWT,
    "url_password": URL_PASSWORD,
    "password": PASSWORD,
    "github_token": GITHUB,
    "private_key": PRIVATE_KEY_BODY,
    "slack_token": SLACK,
    "env_value": ENV_SECRET,
    "http_header": HEADER_SECRET,
}

LOG_LINES: list[str] = [
    f"boto3: using access key {AWS_KEY_ID}",
    f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}",
    f"calling upstream with Authorization: Bearer {JWT}",
    f"dial postgres://app:{URL_PASSWORD}@db.shop:5432/orders: connection refused",
    f"login failed for user=app password={PASSWORD}",
    f"cloning with token {GITHUB}",
    "-----BEGIN RSA PRIVATE KEY-----",
    PRIVATE_KEY_BODY,
    "-----END RSA PRIVATE KEY-----",
    f"slack notify failed: token {SLACK} revoked",
]

ENV: list[dict[str, Any]] = [
    {"name": "SIGNING_SALT", "value": ENV_SECRET},
    {"name": "DATABASE_URL", "value": f"postgres://app:{URL_PASSWORD}@db.shop:5432/orders"},
    {"name": "TOKEN_FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "web", "key": "token"}}},
]


def leaks(text: str, *, kinds: Iterable[str] | None = None) -> list[str]:
    """The kinds whose planted secret occurs in ``text`` (empty: nothing leaked)."""
    wanted = PLANTED if kinds is None else {k: PLANTED[k] for k in kinds}
    return sorted(kind for kind, secret in wanted.items() if secret in text)
