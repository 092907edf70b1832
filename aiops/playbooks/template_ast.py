"""Template syntax trees for the bounded sandbox: static limit checks, and the rewrite that counts loops.

Fed by: :mod:`aiops.playbooks.templating` (every compile, and the load-time check of every
template). Consumes: :mod:`aiops.playbooks.sandbox` (its limits and environment).

:func:`static_problem` finds, without running a template, what is over the limits whatever the
data: ``range(100000)``, ``'a'|center(150000000)``, ``recursive`` loops, ``**``, ``include``,
nested constant loops of more than the step budget. :func:`compile_template` refuses those, then
rewrites the tree (each ``for`` iterates through the environment's ``bounded_iter``, each ``~``
joins through ``bounded_concat``; ``nodes.EnvironmentAttribute`` is Jinja2's documented way to
call back into the environment) and compiles it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from aiops.playbooks import sandbox

__all__ = ["compile_template", "static_problem"]


class _Instrument(NodeTransformer):
    """Rewrites a parsed template so loops and ``~`` go through the environment's bounded helpers."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _helper_call("bounded_iter", [node.iter], node.lineno)  # type: ignore[list-item]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _helper_call("bounded_concat", [nodes.List(list(node.nodes), lineno=node.lineno)], node.lineno)


def _helper_call(name: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(name, lineno=lineno), args, [], None, None, lineno=lineno)


def static_problem(ast: nodes.Template) -> str | None:
    """What makes a parsed template go over the limits whatever the data, or None.

    Checked without running it: ``recursive`` loops, ``**``, ``include``/``import``/``extends``,
    ``range()`` of constant arguments longer than :data:`sandbox.MAX_RANGE`, constant widths of the
    sized filters and methods beyond their limits, and nested loops over constant sequences that
    would take more than :data:`sandbox.MAX_STEPS` iterations.
    """
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        return f"line {node.lineno}: include, import and extends are not allowed (templates have no files)"
    for power in ast.find_all(nodes.Pow):
        return f"line {power.lineno}: the ** operator is not allowed in playbook templates"
    for loop in ast.find_all(nodes.For):
        if loop.recursive:
            return f"line {loop.lineno}: recursive loops are not allowed in playbook templates"
    for call in ast.find_all(nodes.Call):
        found = _call_problem(call)
        if found:
            return f"line {call.lineno}: {found}"
    for filter_ in ast.find_all(nodes.Filter):
        limit = sandbox.SIZED_FILTERS.get(filter_.name)
        width = _const(filter_.args[0]) if filter_.args else None
        if limit is not None and isinstance(width, int) and width > limit:
            return f"line {filter_.lineno}: {filter_.name} size {width} is over the limit of {limit}"
    iterations = _loop_iterations(ast.body)
    if iterations > sandbox.MAX_STEPS:
        return f"nested loops would run {iterations} times, over the limit of {sandbox.MAX_STEPS} steps"
    return None


def _const(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def _call_problem(call: nodes.Call) -> str | None:
    args = [_const(arg) for arg in call.args]
    if isinstance(call.node, nodes.Name) and call.node.name == "range":
        length = _constant_length(call)
        if length > sandbox.MAX_RANGE:
            return f"range() of {length} items is over the limit of {sandbox.MAX_RANGE}"
    width = args[0] if args else None
    is_width_method = isinstance(call.node, nodes.Getattr) and call.node.attr in sandbox.WIDTH_METHODS
    if is_width_method and isinstance(width, int) and width > sandbox.MAX_BUILT_CHARS:
        return f"width {width} is over the limit of {sandbox.MAX_BUILT_CHARS}"
    return None


def _loop_iterations(body: Sequence[nodes.Node]) -> int:
    """Iterations of the loops in ``body``, nested ones multiplied; a loop over a value not known
    before rendering counts once (the render budget bounds it)."""
    total = 0
    for node in body:
        if isinstance(node, nodes.For):
            total += max(1, _constant_length(node.iter)) * max(1, _loop_iterations(node.body))
        else:
            children = [child for child in node.iter_child_nodes() if isinstance(child, nodes.Stmt)]
            total += _loop_iterations(children)
    return total


def _constant_length(node: nodes.Node) -> int:
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "range":
        args = [_const(arg) for arg in node.args]
        if args and all(isinstance(arg, int) for arg in args) and len(args) <= 3 and not node.kwargs:
            with contextlib.suppress(ValueError):
                return len(range(*args))
    if isinstance(node, nodes.Const) and isinstance(node.value, str | list | tuple):
        return len(node.value)
    if isinstance(node, nodes.List | nodes.Tuple):
        return len(node.items)
    return 1


def compile_template(env: sandbox.BoundedSandbox, source: str) -> jinja2.Template:
    """Parse, check (:func:`static_problem`), rewrite and compile ``source`` in ``env``.

    Raises :class:`TemplateLimit` for a template over the limits, :class:`jinja2.TemplateSyntaxError`
    for one that does not parse.
    """
    if len(source) > sandbox.MAX_TEMPLATE_CHARS:
        raise sandbox.over("template length", len(source), sandbox.MAX_TEMPLATE_CHARS)
    ast = env.parse(source)
    problem = static_problem(ast)
    if problem is not None:
        raise sandbox.TemplateLimit(problem)
    _Instrument().visit(ast)
    ast.set_environment(env)
    return env.from_string(ast)
