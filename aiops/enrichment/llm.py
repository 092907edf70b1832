"""The one door to LLMs: an OpenAI-compatible chat-completions client that answers in JSON.

Fed by: :class:`LlmConfig` (base URL, model, key, timeout and token budgets), built once from
settings by the runtime (``aiops.runtime.services``). Consumed by: the LLM RCA (``aiops.enrichment.rca.llm``)
and, later, the chat copilot. Works with any server speaking the OpenAI chat-completions API
(OpenAI, Azure OpenAI through ``base_url``, Ollama, vLLM, LiteLLM).

Errors (the SDK's exceptions never leave this module)::

    errors.TemporaryError
     └── LlmUnavailable   .reason: timeout | rate-limited | server-error | connection-error
                          (.delay_seconds from Retry-After / retry-after-ms when the server sends it)
    errors.PermanentError
     └── LlmRejected      .reason: rejected (any other 4xx: bad key, unknown model, bad request)

The SDK's own retries are off (``max_retries=0``): retrying is the caller's decision.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from types import TracebackType
from typing import Any, NamedTuple, Self

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam, completion_create_params
from prometheus_client import CollectorRegistry, Counter, Histogram

from aiops import errors
from aiops.clock import utcnow

__all__ = [
    "LlmClient",
    "LlmConfig",
    "LlmMetrics",
    "LlmRejected",
    "LlmReply",
    "LlmUnavailable",
    "LlmUsage",
    "retry_after_seconds",
]

#: Latency buckets (seconds) for one chat-completion request: local models are slow.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


@dataclass(frozen=True)
class LlmConfig:
    """Where and how to ask.

    ``base_url``: the API root, e.g. ``https://api.openai.com/v1``, ``http://ollama:11434/v1``.
    ``api_key``: sent as a bearer token (any non-empty string for servers that ignore it).
    ``timeout_seconds``: per request, connect + read. ``max_output_tokens``: the answer's budget
    (sent as ``max_tokens``, which OpenAI, Azure, Ollama and vLLM all accept).
    ``max_input_chars``: the budget callers fit their prompts into (system + user, characters).
    ``temperature``: 0 for repeatable answers.
    """

    base_url: str
    model: str
    api_key: str
    timeout_seconds: float = 30.0
    max_output_tokens: int = 800
    max_input_chars: int = 24000
    temperature: float = 0.0


@dataclass(frozen=True)
class LlmUsage:
    """Tokens one request consumed, as the server reports them (0 when it reports nothing)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class LlmReply(NamedTuple):
    """One answer: ``(text, usage, latency_seconds)``; latency covers the whole call, seconds."""

    text: str
    usage: LlmUsage
    latency_seconds: float


class LlmUnavailable(errors.TemporaryError):
    """The endpoint did not answer usefully now; worth retrying after ``delay_seconds``.

    ``reason`` is one of ``timeout``, ``rate-limited``, ``server-error``, ``connection-error``.
    """

    def __init__(self, message: str, *, reason: str, delay_seconds: float = 1.0) -> None:
        super().__init__(message, delay_seconds=delay_seconds)
        self.reason = reason


class LlmRejected(errors.PermanentError):
    """The endpoint refused the request (4xx other than 408/409/429); ``reason`` is ``rejected``."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.reason = "rejected"
        self.status_code = status_code


class LlmMetrics:
    """LLM collectors, registered on the given registry (share the one of ``aiops.metrics``).

    ``aiops_llm_tokens_total{direction}``: tokens, ``direction`` = ``prompt`` | ``completion``.
    ``aiops_llm_request_seconds{outcome}``: one request's latency (histogram, seconds); outcome
    ``ok`` or an :class:`LlmUnavailable` / :class:`LlmRejected` reason; its ``_count`` counts
    requests. ``aiops_llm_rca_total{outcome}``: LLM RCA runs by outcome (``llm``,
    ``llm_retried``, ``fallback_<reason>`` with reason ``invalid_output``, ``timeout``, ...).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.tokens_total = Counter(
            "aiops_llm_tokens_total", "LLM tokens by direction", ["direction"], registry=registry
        )
        self.request_seconds = Histogram(
            "aiops_llm_request_seconds",
            "LLM request latency by outcome (seconds)",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rca_total = Counter(
            "aiops_llm_rca_total", "LLM RCA runs by outcome", ["outcome"], registry=registry
        )


def retry_after_seconds(headers: httpx.Headers, *, default: float = 1.0) -> float:
    """The delay a 429/5xx answer asks for, in seconds (never negative).

    Reads ``retry-after-ms`` (OpenAI, Azure), then ``Retry-After`` as delta-seconds or an HTTP
    date (RFC 9110 §10.2.3); ``default`` when absent or unreadable.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())


class LlmClient:
    """An ``openai.AsyncOpenAI`` configured from :class:`LlmConfig`, answering in JSON.

    Use as ``async with LlmClient(config) as client:`` or call :meth:`aclose`. ``http_client``
    lets tests or proxies supply the transport; ``clock`` (monotonic seconds) times requests.
    """

    def __init__(
        self,
        config: LlmConfig,
        *,
        metrics: LlmMetrics | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self._clock = clock
        self._json_schema_supported = True
        self._sdk = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key,
            timeout=config.timeout_seconds,
            max_retries=0,
            http_client=http_client,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying HTTP connections."""
        await self._sdk.close()

    async def complete_json(
        self, system: str, user: str, *, schema: dict[str, Any], schema_name: str = "answer"
    ) -> LlmReply:
        """Ask once; the answer text should be a JSON object following ``schema`` (JSON Schema).

        Sends ``response_format={"type": "json_schema", ...}`` (non-strict); when the server
        rejects that with a 400, asks once more with ``{"type": "json_object"}`` and keeps using
        it for this client's lifetime. The text is returned unvalidated ("" when the server sent
        no content). Raises :class:`LlmUnavailable` (timeout, 429, 408/409, 5xx, connection) or
        :class:`LlmRejected` (other 4xx).
        """
        started = self._clock()
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        json_schema_format: completion_create_params.ResponseFormat = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": schema, "strict": False},
        }
        if self._json_schema_supported:
            try:
                return await self._request(messages, json_schema_format, started)
            except LlmRejected as exc:
                if exc.status_code != 400:
                    raise
                self._json_schema_supported = False
        return await self._request(messages, {"type": "json_object"}, started)

    async def _request(
        self,
        messages: list[ChatCompletionMessageParam],
        response_format: completion_create_params.ResponseFormat,
        started: float,
    ) -> LlmReply:
        request_started = self._clock()
        try:
            completion = await self._sdk.chat.completions.create(
                model=self.config.model,
                messages=messages,
                temperature=self.config.temperature,
                max_tokens=self.config.max_output_tokens,
                response_format=response_format,
            )
        except openai.APIError as exc:
            mapped = _map_error(exc)
            self._observe(mapped.reason, request_started)
            raise mapped from exc
        self._observe("ok", request_started)
        usage = LlmUsage()
        if completion.usage is not None:
            usage = LlmUsage(
                prompt_tokens=completion.usage.prompt_tokens or 0,
                completion_tokens=completion.usage.completion_tokens or 0,
            )
        if self.metrics is not None:
            self.metrics.tokens_total.labels(direction="prompt").inc(usage.prompt_tokens)
            self.metrics.tokens_total.labels(direction="completion").inc(usage.completion_tokens)
        text = ""
        if completion.choices and completion.choices[0].message.content:
            text = completion.choices[0].message.content
        return LlmReply(text=text, usage=usage, latency_seconds=self._clock() - started)

    def _observe(self, outcome: str, request_started: float) -> None:
        if self.metrics is not None:
            self.metrics.request_seconds.labels(outcome=outcome).observe(self._clock() - request_started)


def _map_error(exc: openai.APIError) -> LlmUnavailable | LlmRejected:
    """The SDK's exception → the aiops error tree (see the module docstring)."""
    if isinstance(exc, openai.APITimeoutError):
        return LlmUnavailable(f"LLM request timed out: {exc}", reason="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return LlmUnavailable(f"LLM endpoint unreachable: {exc}", reason="connection-error")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        delay = retry_after_seconds(exc.response.headers)
        if status == 429:
            return LlmUnavailable(
                f"LLM rate limit (429): {exc.message}", reason="rate-limited", delay_seconds=delay
            )
        if status >= 500 or status in (408, 409):
            return LlmUnavailable(
                f"LLM server error ({status}): {exc.message}", reason="server-error", delay_seconds=delay
            )
        return LlmRejected(f"LLM request rejected ({status}): {exc.message}", status_code=status)
    # APIResponseValidationError and other malformed answers: the server will not improve.
    return LlmRejected(f"LLM answer unreadable: {exc}", status_code=0)
