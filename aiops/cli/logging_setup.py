"""Logging for the ``aiops`` process: console lines through rich, or JSON lines; redacted, correlated.

Fed by: ``aiops run`` (``log_level``, ``log_json`` settings) and ``aiops demo``. Consumes: the
correlation ids (``aiops.correlation``) and the log scrubber (``aiops.enrichment.scrub``).
Consumed by: the root logger (``logging.basicConfig(force=True)``), so every module's log lines
go through it.
"""

from __future__ import annotations

import logging

from aiops.cli.common import err


def setup_logging(level: str = "INFO", *, json_logs: bool = False) -> None:
    """Console logs through rich, or one JSON object per line with ``json_logs``.

    Every line carries the correlation ids in force (``aiops.correlation``): JSON lines as
    ``request_id`` and ``incident_id``, console lines as `` [incident=… request=…]`` after the
    message; and every message is redacted first (``aiops.enrichment.scrub.LogScrubber``).
    """
    from aiops import correlation
    from aiops.enrichment.scrub import LogScrubber

    handler: logging.Handler
    if json_logs:
        from pythonjsonlogger.json import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(incident_id)s")
        )
    else:
        from rich.logging import RichHandler

        handler = RichHandler(console=err, show_path=False, rich_tracebacks=True, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s%(correlation)s"))
    handler.addFilter(LogScrubber())
    handler.addFilter(correlation.LogFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for noisy in ("kopf.objects", "aiohttp.access", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
