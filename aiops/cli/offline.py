"""The offline commands: detect, rca, alerts convert, playbooks validate, logs analyze/templates.

Fed by: files (or stdin) the user names: Kubernetes objects and events (JSON/YAML), container
logs, Alertmanager payloads, playbook and rules files. Consumes: the detectors
(``aiops.sources.kubewatch``), the heuristic RCA (``aiops.enrichment.rca``), the alert
converter, the playbook validator and the log analyzers; never a cluster, Redis or the API.
Exit codes: 0 success, 2 invalid input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aiops import errors, objects
from aiops.cli.app import alerts_app, app, logs_app, playbooks_app
from aiops.cli.common import At, JsonOut, console, err, fail, iso, parse_at, read_lines
from aiops.sources import kubewatch


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
    moment = parse_at(at)
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    try:
        found = [o for o in objects.iter_objects(text, source=source) if "kind" in o and "metadata" in o]
    except errors.ConfigError as exc:
        raise fail(str(exc), 2) from exc
    if not found:
        raise fail(f"{source}: no Kubernetes object (with kind and metadata) found", 2)
    now = moment or kubewatch.newest_timestamp(found)
    printed = 0
    for obj in found:
        for event in kubewatch.detect(obj, now=now):
            sys.stdout.write(event.model_dump_json(by_alias=True) + "\n")
            printed += 1
    if not printed:
        if moment is not None:
            when = f"as of {iso(moment)} (--at)"
        elif now is not None:
            when = f"as of {iso(now)}, the newest timestamp in the input (--at TIME to choose)"
        else:
            when = "as of now (the input holds no timestamp)"
        objects_word = "object" if len(found) == 1 else "objects"
        err.print(
            f"no problems found in {len(found)} {objects_word}, {when}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


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
        raise fail(f"{len(problems)} problem(s) found", 2)
    console.print(f"[green]ok[/]: {', '.join(str(p) for p in paths)}")


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
        raise fail(f"invalid mapping file:\n{exc}", 2) from exc

    source = "<stdin>" if file == "-" else file
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    try:
        found = alertmanager.convert_json(text, mapping)
    except errors.ValidationFailed as exc:
        problems = "\n".join(f"{source}: {p.field or '<root>'}: {p.message}" for p in exc.problems)
        raise fail(f"not a valid Alertmanager webhook payload:\n{problems}", 2) from exc
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

    moment = parse_at(at)
    try:
        evidence = evidence_mod.load_files(file, events, logs, now=moment)
    except OSError as exc:
        raise fail(f"cannot read {exc.filename}: {exc.strerror}", 2) from exc
    except errors.ConfigError as exc:
        raise fail(str(exc), 2) from exc
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


@logs_app.command("analyze")
def logs_analyze(
    file: Annotated[str, typer.Option("--file", "-f", help="A log file; - for stdin.")],
    json_out: JsonOut = False,
) -> None:
    """Ranked failure findings (category, count, first/last line, samples) and rare templates."""
    from aiops.enrichment.logs import analyze

    result = analyze.analyze(read_lines(file))
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
    for number, (template_id, template) in enumerate(miner.assign(read_lines(file)), start=1):
        if json_out:
            sys.stdout.write(
                json.dumps({"line": number, "template_id": template_id, "template": template}) + "\n"
            )
        else:
            sys.stdout.write(f"{number}\t{template_id}\t{template}\n")
