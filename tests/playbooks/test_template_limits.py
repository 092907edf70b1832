"""Playbook templates cannot exhaust the operator: bounded at load (file, line, field) and at render.

A template that is over the limits whatever the data (``'a'|center(150000000)``, nested
``range(100000)`` loops, ``'%0100000000d' % 1``, string doubling in a loop) is refused when the
playbook is validated or loaded, with bounded memory; one that only explodes on real data is
stopped by the render budget with the reason; a render runs in a worker thread, so the event
loop keeps ticking; and a YAML alias bomb is refused at its line before it is expanded.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from aiops import errors, yamlsource
from aiops.playbooks import templating
from aiops.playbooks import validate as validate_mod
from tests.cli.helpers import run_cli

#: Peak Python allocation allowed while validating or rendering one hostile template (bytes).
#: Before the limits, validating ``center(150000000)`` peaked at 450 MB.
MEMORY_BOUND = 50 * 1024 * 1024

#: Line numbers: the template is on line 8, in the step's ``message`` param.
PLAYBOOK = """\
id: note_the_team
triggers: [crash_loop]
steps:
  - name: tell the team
    action: notify
    risk: low
    params:
      message: "TEMPLATE"
"""

#: Over the limits whatever the data: refused when the playbook is validated or loaded.
HOSTILE = {
    "center": ("{{ 'a'|center(150000000) }}", "center size 150000000 is over the limit of 65536"),
    "nested-ranges": (
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        "range() of 100000 items is over the limit of 1000",
    ),
    "nested-small-ranges": (
        "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
        "nested loops would run 1000000 times",
    ),
    "printf-width": ("{{ '%0100000000d' % 1 }}", "format width 100000000 is over the limit"),
    "format-filter": ("{{ '%-100000000s'|format('x') }}", "format width 100000000 is over the limit"),
    "str-format": (
        "{{ '{:>100000000}'.format(1) }}",
        "access to attribute 'format' of 'str' object is unsafe",
    ),
    "ljust": ("{{ event.reason.ljust(100000000) }}", "width 100000000 is over the limit"),
    "doubling": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "concatenation result too large",
    ),
    "replace": ("{{ ('a' * 60000)|replace('a', 'b' * 60000) }}", "replace would build 3600000000 characters"),
    "join": ("{{ range(1000)|join('x' * 60000) }}", "join would build"),
    "squaring": (
        "{% set ns = namespace(n=10) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "product size in bits",
    ),
    "batch": ("{{ [1]|batch(100000000, 'x')|list }}", "batch size 100000000 is over the limit of 1000"),
    "many-centers": ("{{ range(1000)|map('center', 60000)|list|length }}", "more than 20000 steps"),
    "big-output": ("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}", "longer than 65536 characters"),
    "recursive-loop": ("{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}", "recursive loops"),
    "macro-recursion": ("{% macro m(d) %}{{ m(d + 1) }}{% endmacro %}{{ m(0) }}", "call themselves"),
}


def _peak(action: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("template", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_template_is_refused_at_load_with_file_line_field_in_bounded_memory(
    tmp_path: Path, template: str, reason: str
) -> None:
    path = tmp_path / "note.yaml"
    path.write_text(PLAYBOOK.replace("TEMPLATE", template.replace('"', '\\"')))

    found, peak = _peak(lambda: validate_mod.validate_paths([path]))

    assert [(p.file, p.line, p.field) for p in found] == [(str(path), 8, "steps.0.params.message")], found
    assert "template over the limits" in found[0].message and reason in found[0].message, found[0].message
    assert peak < MEMORY_BOUND, f"validating peaked at {peak / 2**20:.0f} MiB"


def test_the_cli_names_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "note.yaml").write_text(PLAYBOOK.replace("TEMPLATE", "{{ 'a'|center(150000000) }}"))
    result = run_cli("playbooks", "validate", "note.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.flat_stderr.startswith(
        "note.yaml:8: steps.0.params.message: template over the limits: line 1: center size 150000000 "
        "is over the limit of 65536"
    ), result


@pytest.mark.parametrize(("template", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_template_is_refused_at_render_in_bounded_memory(template: str, reason: str) -> None:
    """Rendering (what the executor does) refuses the same templates by itself: a playbook never
    gets past the load checks, but the render does not rely on them."""
    reason = reason.replace("call themselves", "RecursionError")

    def render() -> str:
        with pytest.raises(templating.TemplateError) as caught:
            templating.render_params({"message": template}, templating.sample_context())
        return str(caught.value)

    message, peak = _peak(render)
    assert message.startswith("params.message: "), message
    assert reason in message, message
    assert peak < MEMORY_BOUND, f"rendering peaked at {peak / 2**20:.0f} MiB"


#: Harmless on the sample event, so it loads; 110 log characters cubed is 1.3 million iterations.
DATA_BOMB = (
    "{% for a in steps.read.output %}{% for b in steps.read.output %}{% for c in steps.read.output %}"
    "{% endfor %}{% endfor %}{% endfor %}done"
)


def _with_log(log: str) -> dict[str, Any]:
    return {**templating.sample_context(), "steps": {"read": {"output": log}}}


def test_a_template_that_explodes_on_real_data_loads_but_is_stopped_by_the_render_budget() -> None:
    templating.check_template(DATA_BOMB)  # the sample event has no earlier steps: nothing to loop over
    assert templating.render_params({"m": DATA_BOMB}, _with_log("x" * 20)) == {"m": "done"}
    with pytest.raises(
        templating.TemplateError, match=r"^params\.m: refused by the template sandbox: .*20000 steps"
    ):
        templating.render_params({"m": DATA_BOMB}, _with_log("x" * 110))


async def test_rendering_runs_off_the_event_loop() -> None:
    """While a template renders (here: until its budget stops it), the event loop keeps running
    other tasks: the render is awaited in a worker thread, never run inline."""
    ticks = 0
    render = asyncio.create_task(templating.render_params_async({"m": DATA_BOMB}, _with_log("x" * 110)))
    while not render.done():
        ticks += 1
        await asyncio.sleep(0)
    with pytest.raises(templating.TemplateError, match="20000 steps"):
        render.result()
    assert ticks >= 2, "the event loop did not run while the template rendered"
    ok = await templating.render_params_async({"m": "{{ event.resource.name }}"}, templating.sample_context())
    assert ok == {"m": "web-7d4f9c6b8-x2k4p"}


def test_ordinary_templates_still_render() -> None:
    params = {
        "m": "{% for k, v in event.labels|dictsort %}{{ k }}={{ v }}{% endfor %} x{{ '-' * 3 }}"
        "{{ event.details.restart_count * 10 }} {{ event.message|truncate(20) }} {{ range(3)|join(',') }}",
    }
    assert templating.render_params(params, templating.sample_context()) == {
        "m": "app=web x---70 Back-off... 0,1,2"
    }


BILLION_LAUGHS = """\
id: laughs
triggers: [crash_loop]
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
steps:
  - name: note
    action: notify
    risk: low
    params:
      message: *h
"""


def test_a_yaml_alias_bomb_is_refused_at_its_line_before_it_is_expanded() -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        yamlsource.parse_documents(BILLION_LAUGHS, file="laughs.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("laughs.yaml", 8, "f")
    assert f"expand this value to more than {yamlsource.MAX_EXPANDED_VALUES} values" in problem.message
    # Aliases used with restraint are fine.
    (document,) = yamlsource.parse_documents("a: &a [1, 2]\nb: [*a, *a]\n", file="ok.yaml")
    assert document.data == {"a": [1, 2], "b": [[1, 2], [1, 2]]}


def test_validate_reports_the_alias_bomb(tmp_path: Path) -> None:
    (tmp_path / "laughs.yaml").write_text(BILLION_LAUGHS)
    result = run_cli("playbooks", "validate", "laughs.yaml", cwd=tmp_path, timeout_seconds=60)
    assert result.returncode == 2, result
    assert result.flat_stderr.startswith("laughs.yaml:8: f: YAML aliases (*name) expand this value"), result
