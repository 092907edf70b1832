"""The bounded Jinja2 sandbox playbook templates run in: what one template may cost.

Fed by: :mod:`aiops.playbooks.templating`, which renders every templated param inside
:func:`budget`, compiled by :mod:`aiops.playbooks.template_ast` (static checks and the rewrite of
loops and ``~``). Consumed by: those two modules only.

A ``Playbook`` resource can be written by any team with access to its namespace, so a template is
untrusted code. Jinja2's ``ImmutableSandboxedEnvironment`` stops escapes (underscore attributes,
mutating methods) but not exhaustion: ``'a'|center(150000000)`` allocates 150 MB (already at
load, where the compiler folds constants) and nested ``range(100000)`` loops run for minutes.
Here, on top of the sandbox (the numbers are the module constants below):

* ``range()`` yields at most :data:`MAX_RANGE` items; ``recursive`` loops, ``**``,
  ``include``/``import``/``extends`` and Python's ``str.format``/``format_map``/``translate``/
  ``expandtabs``/``int.to_bytes`` are refused;
* every filter, method call, ``*``, ``+``, ``%`` and ``~`` that builds a value is checked *before*
  it allocates where its size comes from an argument (``center``/``ljust``/``rjust``/``zfill``/
  ``indent``/``wordwrap`` widths, ``replace``, ``join``, ``batch``/``slice`` counts, printf
  widths, repetition, big integers), and after; nothing it builds may exceed
  :data:`MAX_BUILT_CHARS`, nothing it is given may exceed :data:`MAX_INPUT_CHARS`
  (counted deep: a list counts its items' sizes), and the rendered text of one param may not
  exceed :data:`MAX_BUILT_CHARS` either;
* a render has a budget of :data:`MAX_STEPS` steps: a loop iteration, an attribute or item
  lookup, a call, a filter or an operator is one step, plus one step per 64 characters it reads
  or builds; and a wall-clock deadline of :data:`RENDER_SECONDS` as a backstop. So a render
  costs milliseconds, and a few MiB at most.

Loops are counted by rewriting the template's syntax tree before it is compiled
(:mod:`aiops.playbooks.template_ast`: each ``for`` iterates through
:meth:`BoundedSandbox.bounded_iter`, each ``~`` goes through :meth:`BoundedSandbox.bounded_concat`);
everything else uses the sandbox's documented hooks (``call``, ``getattr``, ``getitem``,
``call_binop``, ``concat``, ``finalize``) and wrapped filters.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = [
    "MAX_BUILT_CHARS",
    "MAX_INPUT_CHARS",
    "MAX_RANGE",
    "MAX_STEPS",
    "MAX_TEMPLATE_CHARS",
    "RENDER_SECONDS",
    "SIZED_FILTERS",
    "WIDTH_METHODS",
    "BoundedSandbox",
    "TemplateLimit",
    "budget",
    "over",
]

#: Longest template source (characters).
MAX_TEMPLATE_CHARS = 16 * 1024
#: Most items one ``range()`` yields (Jinja2's own sandbox allows 100,000).
MAX_RANGE = 1000
#: Steps one render may take (see the module docstring).
MAX_STEPS = 20_000
#: Largest value a template may build, and the longest rendered text of one param (characters).
MAX_BUILT_CHARS = 64 * 1024
#: Largest value (deep size) a filter, method, operator or output may be given (characters).
MAX_INPUT_CHARS = 1024 * 1024
#: Largest integer a multiplication may build (bits; about 1,200 decimal digits).
MAX_INT_BITS = 4096
#: Wall-clock backstop of one render (seconds).
RENDER_SECONDS = 1.0
#: Characters read or built per extra step.
_CHARS_PER_STEP = 64

#: Callable attributes a template may not use: they build unbounded output from small input.
_REFUSED_METHODS = frozenset({"format", "format_map", "translate", "maketrans", "expandtabs", "to_bytes"})
#: ``str``/``bytes`` methods whose first argument is the width of their result.
WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
#: Filters whose first argument (after the value) is a width or count, and its limit.
SIZED_FILTERS = {
    "center": MAX_BUILT_CHARS,
    "indent": MAX_BUILT_CHARS,
    "batch": MAX_RANGE,
    "slice": MAX_RANGE,
}
#: A printf conversion (``%-10.3f``); its width and precision are checked before formatting.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


class TemplateLimit(SecurityError):
    """A template went over one of the limits of this module; the message says which."""


@dataclass
class _Budget:
    steps_left: int
    deadline: float

    def spend(self, steps: int) -> None:
        self.steps_left -= steps
        if self.steps_left < 0:
            raise TemplateLimit(
                f"the template needs more than {MAX_STEPS} steps (loop iterations, lookups, calls, "
                "filters); keep playbook templates small"
            )
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"the template took more than {RENDER_SECONDS} s to render")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "aiops-template-budget", default=None
)


@contextlib.contextmanager
def budget(steps: int = MAX_STEPS, seconds: float = RENDER_SECONDS) -> Iterator[None]:
    """Compile and render inside this: ``steps`` steps and ``seconds`` of wall clock for everything
    done in it (per thread or task: a context variable). Outside any budget nothing is counted, but
    every size limit still holds."""
    token = _BUDGET.set(_Budget(steps, time.monotonic() + seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _spend(size: int = 0) -> None:
    current = _BUDGET.get()
    if current is not None:
        current.spend(1 + size // _CHARS_PER_STEP)


def deep_size(value: Any, limit: int = MAX_INPUT_CHARS) -> int:
    """Characters of strings and bytes in ``value``, counting into lists, tuples, sets and mappings
    (every item at every use), plus one per other value; stops counting past ``limit``."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes | range):
            total += len(item)
        elif isinstance(item, Mapping):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1
            stack.extend(item)
        else:
            total += 1
    return total


def _given(*values: Any) -> int:
    size = sum(deep_size(value) for value in values)
    if size > MAX_INPUT_CHARS:
        raise TemplateLimit(f"a value of more than {MAX_INPUT_CHARS} characters was given to the template")
    return size


def _built(value: Any, what: str) -> int:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        size = deep_size(value, MAX_BUILT_CHARS)
        if size > MAX_BUILT_CHARS:
            raise TemplateLimit(f"{what} would build more than {MAX_BUILT_CHARS} characters")
        return size
    return 0


def over(what: str, value: int, limit: int) -> TemplateLimit:
    """``TemplateLimit('<what> <value> is over the limit of <limit>')``."""
    return TemplateLimit(f"{what} {value} is over the limit of {limit}")


def _int_arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_printf(fmt: Any) -> None:
    """Widths and precisions of a printf format string (``'%-10s'``), before ``%`` formats it."""
    if not isinstance(fmt, str | bytes):
        return
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    for match in _PRINTF.finditer(text):
        for number in match.groups():
            if number == "*":
                raise TemplateLimit("'*' widths are not allowed in format strings")
            if number is not None and int(number) > MAX_BUILT_CHARS:
                raise over("format width", int(number), MAX_BUILT_CHARS)


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if (
        not isinstance(text, str | bytes)
        or not isinstance(old, str | bytes)
        or not isinstance(new, str | bytes)
    ):
        return
    hits = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    size = len(text) + hits * max(0, len(new) - len(old))
    if size > MAX_BUILT_CHARS:
        raise TemplateLimit(f"replace would build {size} characters, over the limit of {MAX_BUILT_CHARS}")


def _bounded_items(iterable: Any) -> list[Any]:
    items = list(itertools.islice(iter(iterable), MAX_BUILT_CHARS + 1))
    if len(items) > MAX_BUILT_CHARS:
        raise TemplateLimit(f"more than {MAX_BUILT_CHARS} items to join")
    return items


def _check_join(items: list[Any], separator: Any) -> None:
    size = sum(deep_size(item, MAX_BUILT_CHARS) for item in items)
    size += max(0, len(items) - 1) * (len(separator) if isinstance(separator, str | bytes) else 0)
    if size > MAX_BUILT_CHARS:
        raise TemplateLimit(f"join would build {size} characters, over the limit of {MAX_BUILT_CHARS}")


def _check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Pre-checks of the filters whose result size comes from an argument (Jinja2 3.1 signatures)."""
    if name in SIZED_FILTERS:
        limit = SIZED_FILTERS[name]
        size = _int_arg(args, kwargs, 0, {"center": "width", "indent": "width"}.get(name, ""), None)
        if name == "indent" and isinstance(size, str):
            size = len(size)
        if name == "indent" and isinstance(size, int) and isinstance(value, str):
            size = size * (value.count("\n") + 1) + len(value)
        if isinstance(size, int) and size > limit:
            raise over(f"{name} size", size, limit)
    elif name == "wordwrap" and isinstance(value, str):
        width = _int_arg(args, kwargs, 0, "width", 79)
        wrap = _int_arg(args, kwargs, 2, "wrapstring", None) or "\n"
        if isinstance(width, int) and width > 0 and isinstance(wrap, str):
            size = len(value) + (len(value) // width + value.count("\n") + 1) * len(wrap)
            if size > MAX_BUILT_CHARS:
                raise over("wordwrap result size", size, MAX_BUILT_CHARS)
    elif name == "format":
        _check_printf(value)
    elif name == "replace":
        _check_replace(
            value, _int_arg(args, kwargs, 0, "old", ""), _int_arg(args, kwargs, 1, "new", ""), None
        )
    elif name == "sum":
        start = _int_arg(args, kwargs, 1, "start", 0)
        if not isinstance(start, int | float):
            raise TemplateLimit("sum() may only add numbers in playbook templates")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with the checks of this module around it (its Jinja2 pass-argument kept)."""
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # context/environment first

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value, rest = (args[offset] if len(args) > offset else None), args[offset + 1 :]
        size = _given(value, *rest, *kwargs.values())
        _check_filter(name, value, rest, kwargs)
        if name == "join" and not isinstance(value, str):
            value = _bounded_items(value)
            _check_join(value, _int_arg(rest, kwargs, 0, "d", ""))
            args = (*args[:offset], value, *rest)
        result = func(*args, **kwargs)
        _spend(size + _built(result, f"the {name} filter"))
        return result

    return guarded


def _ints(*values: Any) -> bool:
    return all(isinstance(value, int) for value in values)


def bounded_range(*args: Any) -> range:
    """``range()`` of at most :data:`MAX_RANGE` items."""
    found = range(*args)
    if len(found) > MAX_RANGE:
        raise over("range() length", len(found), MAX_RANGE)
    return found


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 10 or max > 200:
        raise TemplateLimit("lipsum() is limited to 10 paragraphs of 200 words")
    return str(jinja2.utils.generate_lorem_ipsum(n=n, html=html, min=min, max=max))


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with the limits of this module: no loader, autoescape off
    (the output is data, not HTML), ``undefined`` as given (``StrictUndefined`` for renders)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, undefined: type[jinja2.Undefined] = jinja2.StrictUndefined) -> None:
        super().__init__(undefined=undefined, autoescape=False, loader=None, finalize=self._finalize)
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        self.globals["range"] = bounded_range
        self.globals["lipsum"] = _lipsum

    # -- hooks of the sandbox

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's rule, and none of :data:`_REFUSED_METHODS`."""
        return attr not in _REFUSED_METHODS and super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        """``str.format`` is refused (:meth:`is_safe_attribute`), not sandboxed."""
        return None

    def getattr(self, obj: Any, attribute: str) -> Any:
        """One step per lookup."""
        _spend()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """One step per lookup."""
        _spend()
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from a template: checked before (sizes from arguments) and after (the result)."""
        if getattr(__obj, "__func__", None) in (BoundedSandbox.bounded_iter, BoundedSandbox.bounded_concat):
            return __obj(*args)
        owner = getattr(__obj, "__self__", None)
        size = _given(
            owner if isinstance(owner, str | bytes | list | tuple | dict) else None, *args, *kwargs.values()
        )
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str | bytes):
            if name in WIDTH_METHODS:
                width = _int_arg(args, kwargs, 0, "width", 0)
                if isinstance(width, int) and width > MAX_BUILT_CHARS:
                    raise over(f"{name}() width", width, MAX_BUILT_CHARS)
            elif name == "replace":
                _check_replace(
                    owner,
                    _int_arg(args, kwargs, 0, "old", ""),
                    _int_arg(args, kwargs, 1, "new", ""),
                    _int_arg(args, kwargs, 2, "count", -1),
                )
            elif name == "join" and args:
                items = _bounded_items(args[0])
                _check_join(items, owner)
                args = (items, *args[1:])
        result = super().call(__context, __obj, *args, **kwargs)
        _spend(size + _built(result, f"{name or 'the call'}()"))
        return result

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        """``**`` refused; ``*``, ``+`` and ``%`` checked before they build (see the module docstring)."""
        if operator_ == "**":
            raise SecurityError("the ** operator is not allowed in playbook templates")
        size = _given(left, right)
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                repeats = isinstance(seq, str | bytes | list | tuple) and isinstance(times, int)
                if repeats and deep_size(seq) * times > MAX_BUILT_CHARS:
                    raise TemplateLimit(f"repetition result too large (over {MAX_BUILT_CHARS} characters)")
            bits = abs(left).bit_length() + abs(right).bit_length() if _ints(left, right) else 0
            if bits > MAX_INT_BITS:
                raise over("product size in bits", bits, MAX_INT_BITS)
            result = operator.mul(left, right)
        elif operator_ == "+":
            if isinstance(left, str | bytes | list | tuple) and size > MAX_BUILT_CHARS:
                raise TemplateLimit(f"concatenation result too large (over {MAX_BUILT_CHARS} characters)")
            result = operator.add(left, right)
        else:
            if isinstance(left, str | bytes):
                _check_printf(left)
            result = operator.mod(left, right)
        _spend(size + _built(result, f"the {operator_} operator"))
        return result

    @staticmethod
    def concat(parts: Iterable[Any]) -> str:
        """Join rendered output (a render, ``{% set %}`` blocks, macros) while it is produced: at most
        :data:`MAX_BUILT_CHARS` characters, one step per 64 of them."""
        out, size = [], 0
        for part in parts:
            text = str(part)
            size += len(text)
            if size > MAX_BUILT_CHARS:
                raise TemplateLimit(f"the rendered text is longer than {MAX_BUILT_CHARS} characters")
            _spend(len(text))
            out.append(text)
        return "".join(out)

    @staticmethod
    def _finalize(value: Any) -> Any:
        """Every ``{{ value }}``: its deep size is checked before it is turned into text."""
        if isinstance(value, list | tuple | dict | set | frozenset) and deep_size(value) > MAX_BUILT_CHARS:
            raise TemplateLimit(f"the rendered text would be longer than {MAX_BUILT_CHARS} characters")
        return value

    # -- targets of the rewritten syntax tree

    def bounded_iter(self, iterable: Any) -> Iterator[Any]:
        """What a ``for`` loop iterates: one step per item."""
        for item in iterable:
            _spend()
            yield item

    def bounded_concat(self, parts: list[Any]) -> str:
        """The ``~`` operator, checked before it joins."""
        size = _given(*parts)
        if size > MAX_BUILT_CHARS:
            raise TemplateLimit(f"concatenation result too large (over {MAX_BUILT_CHARS} characters)")
        _spend(size)
        return "".join(str(part) for part in parts)
