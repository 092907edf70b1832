"""The commands that start aiops: ``aiops run``, ``aiops config check`` and ``aiops demo``.

Fed by: the user's shell and the settings (``--config``/``AIOPS_CONFIG`` and ``AIOPS_*``).
Consumes: the configuration loader (``aiops.config``), the preflight checks, the runtime and
the demo (imported when the command runs, so ``aiops --help`` stays quick and ``aiops run``
never imports the emulator). Exit codes: as each command's help says.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Annotated

import typer
from rich.markup import escape

from aiops import errors
from aiops.cli.app import app, config_app
from aiops.cli.common import (
    DEMO_EXTRA_MODULES,
    INTERRUPTED_EXIT_CODE,
    ConfigFile,
    configuration_problems,
    console,
    err,
    fail,
)
from aiops.cli.logging_setup import setup_logging


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
        raise fail(
            "refusing to start on invalid configuration (nothing was started; every setting is in "
            f"docs/configuration.md):\n{configuration_problems(exc)}",
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
        raise fail(f"refusing to start on invalid configuration:\n{configuration_problems(exc)}", 2) from exc
    except preflight.StartupFailed as exc:
        raise fail(f"cannot start, nothing was started:\n{exc}") from exc
    except Exception as exc:  # the operator's last words: one line, the traceback at DEBUG
        logging.getLogger("aiops").debug("aiops run stopped on an error", exc_info=exc)
        raise fail(
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
        err.print(configuration_problems(exc), markup=False, highlight=False, soft_wrap=True)
        count = len(exc.problems) if isinstance(exc, errors.ValidationFailed) else 1
        raise fail(
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
