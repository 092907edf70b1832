"""Step params render through one sandboxed, strict Jinja2 environment: undefined values are errors
(never empty strings), sandbox escapes and resource bombs are refused, errors name the param, and
blank results are omitted so the action's own default applies."""

from __future__ import annotations

from typing import Any

import pytest

from aiops import errors
from aiops.playbooks import templating
from tests.playbooks import sample_events


@pytest.fixture
def context() -> dict[str, Any]:
    return templating.template_context(sample_events.pod_event(), run={"id": "r1", "playbook_id": "p"})


def test_strings_render_recursively_and_other_values_pass_through(context: dict[str, Any]) -> None:
    params = {
        "pod": "{{ event.resource.name }}",
        "nested": {"labels": ["{{ event.labels.app }}", 3], "flag": True},
        "tail_lines": 200,
        "ratio": 1.5,
        "nothing": None,
        "plain": "no template here",
        "run": "{{ run.id }}",
    }
    assert templating.render_params(params, context) == {
        "pod": "web-7d4f9-abcde",
        "nested": {"labels": ["web", 3], "flag": True},
        "tail_lines": 200,
        "ratio": 1.5,
        "nothing": None,
        "plain": "no template here",
        "run": "r1",
    }


def test_the_input_is_not_modified(context: dict[str, Any]) -> None:
    params = {"a": {"b": "{{ event.type }}"}}
    templating.render_params(params, context)
    assert params == {"a": {"b": "{{ event.type }}"}}


def test_an_undefined_variable_is_an_error_not_an_empty_string(context: dict[str, Any]) -> None:
    with pytest.raises(templating.TemplateError) as caught:
        templating.render_params({"pod": "{{ event.resource.nmae }}"}, context)
    assert caught.value.path == "params.pod"
    assert "undefined value" in str(caught.value) and "nmae" in str(caught.value)


def test_an_undefined_value_deep_in_params_names_its_path(context: dict[str, Any]) -> None:
    with pytest.raises(templating.TemplateError, match=r"^params\.selector\.1\.key: undefined value"):
        templating.render_params({"selector": ["ok", {"key": "{{ event.details.nope }}"}]}, context)


def test_template_errors_are_permanent(context: dict[str, Any]) -> None:
    with pytest.raises(errors.PermanentError):
        templating.render_params({"x": "{{ incident.id }}"}, context)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ event.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ self._TemplateReference__context }}",
        "{{ event.labels.update({'a': 'b'}) }}",
        "{{ [].append(1) }}",
    ],
)
def test_sandbox_escapes_and_mutations_are_refused(context: dict[str, Any], source: str) -> None:
    with pytest.raises(templating.TemplateError, match=r"^params\.x: refused by the template sandbox"):
        templating.render_params({"x": source}, context)


@pytest.mark.parametrize("source", ["{{ 'a' * 100000000 }}", "{{ [0] * 100000000 }}", "{{ 9 ** 9 }}"])
def test_resource_bombs_are_refused(context: dict[str, Any], source: str) -> None:
    with pytest.raises(templating.TemplateError, match="sandbox"):
        templating.render_params({"x": source}, context)


def test_small_repetition_still_works(context: dict[str, Any]) -> None:
    assert templating.render_params({"x": "{{ '-' * 3 }}"}, context) == {"x": "---"}


def test_templates_cannot_read_files(context: dict[str, Any]) -> None:
    with pytest.raises(
        templating.TemplateError, match=r"^params\.x: refused by the template sandbox: .* include"
    ):
        templating.render_params({"x": "{% include '/etc/passwd' %}"}, context)


def test_other_runtime_failures_are_template_errors(context: dict[str, Any]) -> None:
    with pytest.raises(templating.TemplateError, match="ZeroDivisionError"):
        templating.render_params({"x": "{{ 1 / 0 }}"}, context)


def test_blank_mapping_entries_are_omitted_but_list_items_kept(context: dict[str, Any]) -> None:
    params = {
        "container": "{{ event.details.missing | default('') }}",
        "spaces": "{% if false %}x{% endif %}  ",
        "literal": "",
        "items": ["", "{{ '' }}"],
        "kept": "{{ event.details.container }}",
    }
    assert templating.render_params(params, context) == {"items": ["", ""], "kept": "app"}


def test_a_null_renders_as_none_unless_default_is_boolean(context: dict[str, Any]) -> None:
    node = templating.template_context(sample_events.node_event())
    params = {
        "strict": "{{ event.resource.namespace }}",
        "tolerant": "{{ event.resource.namespace | default('', true) }}",
    }
    assert templating.render_params(params, node) == {"strict": "None"}


def test_output_is_not_html_escaped(context: dict[str, Any]) -> None:
    event = sample_events.pod_event(labels={"team": "<a&b>"})
    rendered = templating.render_params({"x": "{{ event.labels.team }}"}, templating.template_context(event))
    assert rendered == {"x": "<a&b>"}


def test_the_context_exposes_event_subject_owner_and_details() -> None:
    event = sample_events.pod_event()
    context = templating.template_context(event)
    assert context["incident"] == {} and context["run"] == {}
    rendered = templating.render_params(
        {
            "subject": "{{ event.subject.kind }}/{{ event.subject.name }}",
            "owner": "{{ event.owner.name }}",
            "restarts": "{{ event.details.restart_count + 1 }}",
            "type": "{{ event.type }}",
        },
        context,
    )
    assert rendered == {"subject": "Deployment/web", "owner": "web", "restarts": "8", "type": "crash_loop"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ event.resource.name }", "template syntax error: unexpected '}'"),
        ("{% if event %}", "template syntax error"),
        ("{{ evnt.x }} {{ other }}", "unknown name(s) evnt, other; available: event, incident, run"),
    ],
)
def test_check_template_refuses_syntax_errors_and_unknown_names(source: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        templating.check_template(source)


def test_check_template_accepts_locals_and_builtins() -> None:
    templating.check_template(
        "{% set n = event.name %}{% for i in range(2) %}{{ n }}{{ loop.index }}{% endfor %}"
    )
