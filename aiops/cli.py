"""The ``aiops`` command line: run, demo, detect, playbooks, approvals, incidents.

Fed by: the user's shell. Consumes: settings (``aiops run``), the runtime, the demo, the
detectors (offline), the playbook validator (offline) and the HTTP API (approvals, incidents).
Exit codes: 0 success, 1 operational failure (API error, unreachable), 2 invalid input/config.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from aiops import client as client_mod
from aiops import errors, objects
from aiops.sources import kubewatch
from aiops.sources.kubewatch import fields as watch_fields

app = typer.Typer(
    name="aiops",
    help="Kubernetes AIOps operator and SRE copilot: detect, deduplicate, remediate behind approvals.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
playbooks_app = typer.Typer(help="Check playbook and rule files.", no_args_is_help=True)
approvals_app = typer.Typer(help="List and decide approval requests (through the API).", no_args_is_help=True)
incidents_app = typer.Typer(help="List and inspect incidents (through the API).", no_args_is_help=True)
alerts_app = typer.Typer(help="Alertmanager payloads, offline.", no_args_is_help=True)
logs_app = typer.Typer(
    help="Analyze container logs offline: failure patterns and templates.", no_args_is_help=True
)
config_app = typer.Typer(help="Check the configuration aiops run would start with.", no_args_is_help=True)
app.add_typer(playbooks_app, name="playbooks")
app.add_typer(approvals_app, name="approvals")
app.add_typer(incidents_app, name="incidents")
app.add_typer(alerts_app, name="alerts")
app.add_typer(logs_app, name="logs")
app.add_typer(config_app, name="config")

console = Console()
err = Console(stderr=True)

ApiUrl = Annotated[str, typer.Option("--api-url", envvar="AIOPS_API_URL", help="Base URL of the aiops API.")]
Token = Annotated[
    str | None, typer.Option("--token", envvar="AIOPS_API_TOKEN", help="Bearer token (your identity).")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
#: Exit code after Ctrl-C: 128 + SIGINT (2), as shells report a process that SIGINT ended.
INTERRUPTED_EXIT_CODE = 130
#: Packages of the ``demo`` extra (pyproject.toml): the emulator and the in-process store.
DEMO_EXTRA_MODULES = frozenset({"kmock", "fakeredis"})


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


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: MESSAGE`` (user text verbatim, never read as markup, never wrapped)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _run_api(coro: Any) -> Any:
    """Run an API call; an API error exits 1, or 2 when the API refused the input (400, 422:
    the message names each invalid field and why, e.g. ``reason (request body): String should
    have at most 1000 characters``)."""
    try:
        return asyncio.run(coro)
    except client_mod.ApiClientError as exc:
        if exc.invalid_input:
            raise _fail(f"{exc}; correct it and run the command again", 2) from exc
        raise _fail(str(exc)) from exc


ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="AIOPS_CONFIG",
        help="YAML settings file; it must exist. The environment (AIOPS_*) overrides its keys.",
    ),
]


def _configuration_problems(exc: errors.ConfigError) -> str:
    """One indented line per problem (``WHERE: FIELD: MESSAGE``)."""
    lines = [str(p) for p in exc.problems] if isinstance(exc, errors.ValidationFailed) else [str(exc)]
    return "\n".join(f"  {line}" for line in lines)


@app.command()
def run(config: ConfigFile = None) -> None:
    """Run the operator and the API against the cluster (kubeconfig or in-cluster).

    Exit codes: 2 invalid configuration (nothing started; as [bold]aiops config check[/] reports);
    1 Redis or the Kubernetes API unreachable at start (after startup_wait_seconds), or the
    operator stopped on an error; 0 stopped by a signal.
    """
    from aiops import config as config_mod
    from aiops import preflight, runtime

    try:
        loaded = config_mod.load(config)
    except errors.ConfigError as exc:
        raise _fail(
            "refusing to start on invalid configuration (nothing was started; every setting is in "
            f"docs/configuration.md):\n{_configuration_problems(exc)}",
            2,
        ) from exc
    settings = loaded.settings
    setup_logging(settings.log_level, json_logs=settings.log_json)
    for warning in config_mod.warnings(loaded):
        logging.getLogger("aiops").warning("configuration: %s", warning)

    async def _main() -> None:
        store, kube = await preflight.connect(settings)
        services = await runtime.build(settings, store=store, kube=kube, config=loaded)
        stop = asyncio.Event()
        try:
            await runtime.serve(services, stop=stop)
        finally:
            await services.close()

    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        pass
    except errors.ConfigError as exc:
        raise _fail(
            f"refusing to start on invalid configuration:\n{_configuration_problems(exc)}", 2
        ) from exc
    except preflight.StartupFailed as exc:
        raise _fail(f"cannot start, nothing was started:\n{exc}") from exc
    except Exception as exc:  # the operator's last words: one line, the traceback at DEBUG
        logging.getLogger("aiops").debug("aiops run stopped on an error", exc_info=exc)
        raise _fail(
            f"aiops stopped on an error: {type(exc).__name__}: {exc} (the log above says more; "
            "AIOPS_LOG_LEVEL=DEBUG adds the traceback)"
        ) from exc


@config_app.command("check")
def config_check(config: ConfigFile = None) -> None:
    """Check the settings [bold]aiops run[/] would start with: environment and settings file, rules,
    playbooks, the alert mapping. Touches neither Redis nor the Kubernetes API.

    Exit codes: 0 valid (a summary is printed), 2 invalid (every problem is printed).
    """
    from aiops import config as config_mod

    try:
        loaded = config_mod.load(config)
    except errors.ConfigError as exc:
        err.print(_configuration_problems(exc), markup=False, highlight=False, soft_wrap=True)
        count = len(exc.problems) if isinstance(exc, errors.ValidationFailed) else 1
        raise _fail(
            f"{count} problem(s): aiops run would refuse to start (every setting: docs/configuration.md)", 2
        ) from exc
    console.print("ok: aiops run would start with this configuration", markup=False, highlight=False)
    for line in config_mod.describe(loaded):
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    for warning in config_mod.warnings(loaded):
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


@app.command()
def demo(
    script: Annotated[
        bool, typer.Option("--script", help="Unattended: approve every pending step via the API.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the final report as JSON (with --script).")
    ] = False,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", envvar="REDIS_URL", help="Redis to use if it answers.")
    ] = None,
) -> None:
    """Run the whole product against an emulated cluster with failing workloads.

    On a terminal it asks you to decide each medium/high step, shown in full (params, plan, the
    incident's RCA): Enter skips, high risk needs "approve" typed. Rejecting or skipping is fine
    (exit 0); exit 1 when an approved step did not do what it should; Ctrl-C stops cleanly (130).
    """
    try:
        from aiops import demo as demo_mod
    except ModuleNotFoundError as exc:
        if exc.name not in DEMO_EXTRA_MODULES:
            raise
        err.print(
            f"error: the demo needs the '{exc.name}' package, which `pip install aiops` leaves out.\n"
            "  install the demo extra:  pip install 'aiops[demo]'   (or run `make demo` in a checkout)",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(1) from None

    interactive = not script and sys.stdin.isatty()
    setup_logging("WARNING" if (json_out or interactive) else "INFO")
    try:
        report = asyncio.run(
            demo_mod.run_demo(
                redis_url=redis_url, interactive=interactive, console=err if json_out else console
            )
        )
    except (demo_mod.Interrupted, KeyboardInterrupt):
        err.print("interrupted: the demo stopped; its cluster and its Redis keys are gone", style="yellow")
        raise typer.Exit(INTERRUPTED_EXIT_CODE) from None
    if json_out:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    if not report.get("ok", False):
        raise typer.Exit(1)


At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Judge recency (e.g. a recent OOM kill) as of this RFC 3339 time, like "
        "2025-03-14T10:30:00Z. Default: the newest timestamp in the input, i.e. as it was saved.",
    ),
]


def _parse_at(at: str | None) -> datetime | None:
    """``--at`` as aware UTC (None when not given); exit 2 when it is not an RFC 3339 time."""
    if at is None:
        return None
    try:
        parsed = watch_fields.parse_time(at.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise _fail(f"--at {at!r}: not an RFC 3339 time; write it like 2025-03-14T10:30:00Z", 2)
    return parsed


@app.command()
def detect(
    file: Annotated[
        str,
        typer.Option("--file", "-f", help="Kubernetes JSON/YAML (a List or many documents); - for stdin."),
    ],
    at: At = None,
) -> None:
    """Print, as JSON lines, the ClusterEvents the operator would emit for the objects in FILE.

    A saved dump is judged as of the newest timestamp it holds (or --at), not the wall clock, so
    last week's OOM kill is found as the operator saw it then, and as `aiops rca` reads it.
    Healthy input prints nothing on stdout and says "no problems found" on stderr.
    """
    source = "<stdin>" if file == "-" else file
    moment = _parse_at(at)
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    try:
        found = [o for o in objects.iter_objects(text, source=source) if "kind" in o and "metadata" in o]
    except errors.ConfigError as exc:
        raise _fail(str(exc), 2) from exc
    if not found:
        raise _fail(f"{source}: no Kubernetes object (with kind and metadata) found", 2)
    now = moment or kubewatch.newest_timestamp(found)
    printed = 0
    for obj in found:
        for event in kubewatch.detect(obj, now=now):
            sys.stdout.write(event.model_dump_json(by_alias=True) + "\n")
            printed += 1
    if not printed:
        if moment is not None:
            when = f"as of {_iso(moment)} (--at)"
        elif now is not None:
            when = f"as of {_iso(now)}, the newest timestamp in the input (--at TIME to choose)"
        else:
            when = "as of now (the input holds no timestamp)"
        objects_word = "object" if len(found) == 1 else "objects"
        err.print(
            f"no problems found in {len(found)} {objects_word}, {when}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@playbooks_app.command("validate")
def playbooks_validate(
    paths: Annotated[list[Path], typer.Argument(help="Playbook or rules files, or directories of them.")],
) -> None:
    """Validate playbook and rules files; problems are printed as FILE:LINE: FIELD: MESSAGE."""
    from aiops.playbooks import validate

    problems = validate.validate_paths(paths)
    for problem in problems:
        err.print(str(problem), highlight=False, markup=False, soft_wrap=True)
    if problems:
        raise _fail(f"{len(problems)} problem(s) found", 2)
    console.print(f"[green]ok[/]: {', '.join(str(p) for p in paths)}")


def _approvals_table(rows: list[dict[str, Any]]) -> Table:
    """Approval requests at any terminal width: the request column is as wide as the id, which
    stays whole on one line (to copy it), with state, risk and expiry under it; every value wraps
    (fold) instead of being cut. ``rows`` must not be empty."""
    from aiops.approvals import render

    colours = {"pending": "yellow", "approved": "green", "rejected": "red", "expired": "dim"}
    table = Table(show_lines=True)
    table.add_column("request", width=max(len(str(r["id"])) for r in rows), overflow="fold")
    table.add_column("playbook and step", overflow="fold", ratio=3)
    table.add_column("target", overflow="fold", ratio=2)
    for r in rows:
        target = r.get("target") or {}
        by = f" by {r['decided_by']}" if r.get("decided_by") else ""
        table.add_row(
            Text.assemble(
                str(r["id"]),
                "\n",
                (f"{r['state']}{by}", colours.get(r["state"], "")),
                f", {r['risk']} risk\nexpires {str(r['expires_at'])[:19].replace('T', ' ')}",
            ),
            Text(f"{r['playbook_id']}\n{r['step_name']} ({r.get('action', '?')})"),
            Text(render.ref(target)) if target else "",
        )
    return table


@approvals_app.command("list")
def approvals_list(
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
    state: Annotated[str | None, typer.Option(help="pending, approved, rejected or expired.")] = None,
    json_out: JsonOut = False,
) -> None:
    """List approval requests, pending first."""

    async def _go() -> list[dict[str, Any]]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.approvals(state)

    rows = _run_api(_go())
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif not rows:
        console.print(f"no {state} approvals" if state else "no approvals", markup=False, highlight=False)
    else:
        console.print(_approvals_table(rows))


@approvals_app.command("show")
def approvals_show(
    request_id: str, api_url: ApiUrl = "http://127.0.0.1:8080", token: Token = None, json_out: JsonOut = False
) -> None:
    """Show one approval request and its plan: the exact API calls, the server's dry-run answer and
    the diff each makes, what is verified afterwards, and the facts the guards saw."""
    from aiops.approvals import render

    async def _go() -> dict[str, Any]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.approval(request_id)

    request = _run_api(_go())
    if json_out:
        sys.stdout.write(json.dumps(request, indent=2) + "\n")
        return
    for line in render.request_lines(request):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _decide(request_id: str, api_url: str, token: str | None, reason: str | None, *, approve: bool) -> None:
    async def _go() -> dict[str, Any]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.decide(request_id, approve=approve, reason=reason)

    result = _run_api(_go())
    request, run_ = result["request"], result.get("run") or {}
    console.print(
        f"{request['id']} {request['state']} by {request['decided_by']}; "
        f"run {run_.get('id', '?')} is {run_.get('state', '?')}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@approvals_app.command("approve")
def approvals_approve(
    request_id: str,
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept on the request).")] = None,
) -> None:
    """Approve a pending request; the step runs at once, exactly once."""
    _decide(request_id, api_url, token, reason, approve=True)


@approvals_app.command("reject")
def approvals_reject(
    request_id: str,
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept on the request).")] = None,
) -> None:
    """Reject a pending request; its run stops."""
    _decide(request_id, api_url, token, reason, approve=False)


@incidents_app.command("list")
def incidents_list(
    api_url: ApiUrl = "http://127.0.0.1:8080",
    token: Token = None,
    status: Annotated[str | None, typer.Option(help="open or resolved.")] = None,
    json_out: JsonOut = False,
) -> None:
    """List incidents, newest first."""

    async def _go() -> list[dict[str, Any]]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.incidents(status)

    from aiops.approvals import render

    rows = _run_api(_go())
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        console.print(f"no {status} incidents" if status else "no incidents", markup=False, highlight=False)
        return
    # As wide as the id, whole on one line (to copy it); every value wraps (fold), none is cut.
    table = Table(show_lines=True)
    table.add_column("incident", width=max(len(str(r["id"])) for r in rows), overflow="fold")
    table.add_column("problem", overflow="fold", ratio=3)
    table.add_column("events", overflow="fold", ratio=2)
    for r in rows:
        suppressed = ", ".join(f"{k}={v}" for k, v in r.get("suppressed", {}).items())
        table.add_row(
            Text(f"{r['id']}\n{r['status']}\nsince {str(r['first_seen'])[:19].replace('T', ' ')}"),
            Text(f"{r['type']}\n{render.ref(r['subject'])}"),
            Text(f"{r['event_count']} event(s)" + (f"\nsuppressed {suppressed}" if suppressed else "")),
        )
    console.print(table)


@incidents_app.command("show")
def incidents_show(incident_id: str, api_url: ApiUrl = "http://127.0.0.1:8080", token: Token = None) -> None:
    """Show an incident with its runs and step outcomes."""

    async def _go() -> dict[str, Any]:
        async with client_mod.AiopsClient(api_url, token) as api:
            return await api.incident(incident_id)

    sys.stdout.write(json.dumps(_run_api(_go()), indent=2, default=str) + "\n")


@alerts_app.command("convert")
def alerts_convert(
    file: Annotated[
        str, typer.Option("--file", "-f", help="An Alertmanager webhook payload (JSON); - for stdin.")
    ],
    mapping_file: Annotated[
        Path | None,
        typer.Option("--mapping", help="YAML extending the alert mapping (alertmanager.mapping_file)."),
    ] = None,
) -> None:
    """Print, as JSON lines, the ClusterEvents an Alertmanager webhook payload would produce."""
    from aiops.sources import alertmanager
    from aiops.sources.alertmanager import config as alert_config

    try:
        mapping = alert_config.load_mapping(mapping_file)
    except errors.ValidationFailed as exc:
        raise _fail(f"invalid mapping file:\n{exc}", 2) from exc

    source = "<stdin>" if file == "-" else file
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    try:
        found = alertmanager.convert_json(text, mapping)
    except errors.ValidationFailed as exc:
        problems = "\n".join(f"{source}: {p.field or '<root>'}: {p.message}" for p in exc.problems)
        raise _fail(f"not a valid Alertmanager webhook payload:\n{problems}", 2) from exc
    sys.stdout.write(alertmanager.events_as_json_lines(found))


@app.command()
def rca(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="`kubectl get -o json` of the subject (or a List).")
    ],
    events: Annotated[
        Path | None, typer.Option("--events", help="`kubectl get events -o json` output.")
    ] = None,
    logs: Annotated[Path | None, typer.Option("--logs", help="The (previous) container's log.")] = None,
    at: At = None,
    json_out: JsonOut = False,
) -> None:
    """Offline RCA for a post-mortem, from saved object, events and logs (heuristic; secrets redacted).

    Objects and events are read as JSON or YAML, like `aiops detect`, and judged as of the
    newest timestamp in them (or --at), as `aiops detect` judges them.
    """
    from aiops.enrichment import redact
    from aiops.enrichment.rca import evidence as evidence_mod
    from aiops.enrichment.rca import heuristics

    moment = _parse_at(at)
    try:
        evidence = evidence_mod.load_files(file, events, logs, now=moment)
    except OSError as exc:
        raise _fail(f"cannot read {exc.filename}: {exc.strerror}", 2) from exc
    except errors.ConfigError as exc:
        raise _fail(str(exc), 2) from exc
    redactor = redact.Redactor()
    result = heuristics.analyze(evidence)
    result = result.model_copy(
        update={
            "summary": redactor.redact(result.summary),
            "evidence": redactor.redact_lines(result.evidence),
            "recommended_steps": redactor.redact_lines(result.recommended_steps),
        }
    )
    if json_out:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    console.print(f"[bold]{result.category.value}[/] (confidence {result.confidence:.2f}, {result.source})")
    console.print(escape(result.summary), soft_wrap=True)
    for ref in result.evidence:
        console.print(f"  - {escape(ref)}", soft_wrap=True)
    if result.recommended_playbook:
        console.print(f"recommended playbook: [bold]{result.recommended_playbook}[/]")
    for step in result.recommended_steps:
        console.print(f"  → {escape(step)}", soft_wrap=True)


def _read_lines(file: str) -> list[str]:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(errors="replace")
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    return text.splitlines()


@logs_app.command("analyze")
def logs_analyze(
    file: Annotated[str, typer.Option("--file", "-f", help="A log file; - for stdin.")],
    json_out: JsonOut = False,
) -> None:
    """Ranked failure findings (category, count, first/last line, samples) and rare templates."""
    from aiops.enrichment.logs import analyze

    result = analyze.analyze(_read_lines(file))
    if json_out:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    table = Table(
        "severity", "category", "count", "lines", "sample", title=f"{result.lines} lines ({result.engine})"
    )
    for finding in result.findings:
        table.add_row(
            finding.severity.value,
            finding.category,
            str(finding.count),
            f"{finding.first_line}-{finding.last_line}",
            escape(finding.samples[0][:100]) if finding.samples else "",
        )
    console.print(table)
    if not result.findings:
        console.print("[green]no known failure pattern found[/]")


@logs_app.command("templates")
def logs_templates(
    file: Annotated[str, typer.Option("--file", "-f", help="A log file; - for stdin.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per input line instead of tab-separated text.")
    ] = False,
) -> None:
    """Per input line, its template id and template (Drain with masking): LINE, TEMPLATE_ID and
    TEMPLATE separated by tabs (for cut, sort, uniq), or JSON lines with --json."""
    from aiops.enrichment.logs import templates

    miner = templates.TemplateMiner()
    for number, (template_id, template) in enumerate(miner.assign(_read_lines(file)), start=1):
        if json_out:
            sys.stdout.write(
                json.dumps({"line": number, "template_id": template_id, "template": template}) + "\n"
            )
        else:
            sys.stdout.write(f"{number}\t{template_id}\t{template}\n")


def _plain_flags(command: Any) -> None:
    """Show boolean flags (``--json``, ``--script``, ``--help``) without a ``<bool>`` value in ``--help``.

    typer 0.29's rich help prints the type of every option, flags included, as if ``--json`` took
    a value; an empty metavar leaves that column blank for flags only (options with values keep
    theirs). Applied to ``command`` and every subcommand, the help option included.
    """
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    help_option = command.get_help_option(typer.Context(command))
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)


def main() -> None:
    """Console-script entry point."""
    command = typer.main.get_command(app)
    _plain_flags(command)
    command()
