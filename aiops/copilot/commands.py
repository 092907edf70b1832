"""The chat command parser: a message's text in, a typed command out. Pure; nothing is read here.

Fed by: chat (later: a Slack ``/aiops …`` command or app mention, a Telegram ``/command``).
Consumed by: the copilot's command runner (next step). Commands (issue 13, item 1):

``status`` · ``incidents`` · ``incident ID`` · ``approvals`` · ``describe KIND NS/NAME`` (``KIND
NAME`` for cluster-scoped kinds) · ``events NS[/NAME]`` · ``logs NS/POD [-c CONTAINER]
[--previous] [--tail N]`` · ``rca NS/NAME`` · ``why NS/NAME`` (alias of ``rca``) · ``help``.

A leading ``/`` and a Telegram ``@bot`` suffix on the command word are dropped; the command word
is matched in any casing. Kinds come from the copilot's allow-list (:mod:`aiops.copilot.kinds`);
names and namespaces are checked by :mod:`aiops.kube.paths` (Kubernetes naming rules). An
unknown command, or one whose arguments are wrong, parses as :class:`Help` with the reason.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from aiops import kube
from aiops.copilot.kinds import ALLOWED_NAMES, KindRefused, resolve
from aiops.copilot.tools import DEFAULT_TAIL_LINES, MAX_TAIL_LINES

#: An incident id as the store spells them: letters, digits, ``-``, ``_``, ``.``, ``:``.
_INCIDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass(frozen=True)
class Status:
    """``status``: nodes not Ready, pods crash-looping or pending, open incidents, pending approvals."""


@dataclass(frozen=True)
class Incidents:
    """``incidents``: the open incidents."""


@dataclass(frozen=True)
class Incident:
    """``incident ID``: one incident."""

    id: str


@dataclass(frozen=True)
class Approvals:
    """``approvals``: the pending approval requests."""


@dataclass(frozen=True)
class Describe:
    """``describe KIND NS/NAME``: ``kind`` as the API spells it (``Deployment``); ``namespace``
    None for a cluster-scoped kind."""

    kind: str
    namespace: str | None
    name: str


@dataclass(frozen=True)
class Events:
    """``events NS[/NAME]``: the Events of a namespace, or about the objects named ``name``."""

    namespace: str
    name: str | None = None


@dataclass(frozen=True)
class Logs:
    """``logs NS/POD [-c CONTAINER] [--previous] [--tail N]``; ``tail`` at most the tools' bound."""

    namespace: str
    pod: str
    container: str | None = None
    previous: bool = False
    tail: int = DEFAULT_TAIL_LINES


@dataclass(frozen=True)
class Rca:
    """``rca NS/NAME`` (or ``why NS/NAME``): the root-cause analysis of an object, on demand."""

    namespace: str
    name: str


@dataclass(frozen=True)
class Help:
    """``help``, or what an unknown or malformed command parses as: ``reason`` says what was wrong
    (None when help was asked for)."""

    reason: str | None = None


Command = Status | Incidents | Incident | Approvals | Describe | Events | Logs | Rca | Help

HELP_TEXT = f"""Commands:
  status                      nodes not Ready, crash-looping or pending pods, incidents, approvals
  incidents                   open incidents
  incident ID                 one incident
  approvals                   pending approval requests
  describe KIND NS/NAME       an object and its events (KIND NAME for nodes, namespaces)
  events NS[/NAME]            events of a namespace or of one object
  logs NS/POD [-c CONTAINER] [--previous] [--tail N]   a container's log (N at most {MAX_TAIL_LINES})
  rca NS/NAME                 root-cause analysis of an object (alias: why)
  help                        this text
Kinds: {", ".join(ALLOWED_NAMES)}."""


class _Bad(ValueError):
    """A malformed command; the message is the reason shown with the help."""


def _namespace(text: str) -> str:
    try:
        return kube.check_namespace(text)
    except kube.InvalidName as exc:
        raise _Bad(exc.reason) from exc


def _name(kind: str, text: str) -> str:
    try:
        return kube.check_name(kind, text)
    except kube.InvalidName as exc:
        raise _Bad(exc.reason) from exc


def _ns_name(text: str, kind: str, usage: str) -> tuple[str, str]:
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name:
        raise _Bad(f"expected NS/NAME: {usage}")
    return _namespace(namespace), _name(kind, name)


def _arity(args: list[str], count: int, usage: str) -> None:
    if len(args) != count:
        raise _Bad(f"usage: {usage}")


def _describe(args: list[str]) -> Describe:
    usage = "describe KIND NS/NAME"
    _arity(args, 2, usage)
    try:
        info = resolve(args[0])
    except KindRefused as exc:
        raise _Bad(exc.reason) from exc
    if not info.namespaced:
        if "/" in args[1]:
            raise _Bad(f"{info.kind} is cluster-scoped: describe {info.plural} NAME")
        return Describe(info.kind, None, _name(info.kind, args[1]))
    namespace, name = _ns_name(args[1], info.kind, usage)
    return Describe(info.kind, namespace, name)


def _events(args: list[str]) -> Events:
    _arity(args, 1, "events NS[/NAME]")
    if "/" not in args[0]:
        return Events(_namespace(args[0]))
    namespace, name = _ns_name(args[0], "object", "events NS[/NAME]")
    return Events(namespace, name)


def _logs(args: list[str]) -> Logs:
    usage = "logs NS/POD [-c CONTAINER] [--previous] [--tail N]"
    container: str | None = None
    previous = False
    tail = DEFAULT_TAIL_LINES
    target: str | None = None
    rest = iter(args)
    for arg in rest:
        if arg in ("-c", "--container"):
            value = next(rest, None)
            if value is None:
                raise _Bad(f"{arg} needs a container name: {usage}")
            try:
                container = kube.check_container(value)
            except kube.InvalidName as exc:
                raise _Bad(exc.reason) from exc
        elif arg in ("-p", "--previous"):
            previous = True
        elif arg == "--tail":
            value = next(rest, None)
            if value is None or not value.isdigit() or not 1 <= int(value) <= MAX_TAIL_LINES:
                raise _Bad(f"--tail needs a number of lines from 1 to {MAX_TAIL_LINES}")
            tail = int(value)
        elif arg.startswith("-") or target is not None:
            raise _Bad(f"unexpected {arg!r}: {usage}")
        else:
            target = arg
    if target is None:
        raise _Bad(f"usage: {usage}")
    namespace, pod = _ns_name(target, "Pod", usage)
    return Logs(namespace, pod, container, previous, tail)


def _rca(word: str, args: list[str]) -> Rca:
    usage = f"{word} NS/NAME"
    _arity(args, 1, usage)
    namespace, name = _ns_name(args[0], "object", usage)
    return Rca(namespace, name)


def _incident(args: list[str]) -> Incident:
    _arity(args, 1, "incident ID")
    if not _INCIDENT_ID.fullmatch(args[0]):
        raise _Bad("an incident id is letters, digits, '.', '_', ':' and '-' (at most 128)")
    return Incident(args[0])


def _bare(args: list[str], word: str, command: Command) -> Command:
    _arity(args, 0, word)
    return command


def parse(text: str) -> Command:
    """The command ``text`` spells (see the module docstring); :class:`Help` with a reason when it
    is unknown or malformed. Never raises."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        return Help(f"cannot read the command: {exc}")
    if not words:
        return Help()
    word = words[0].lstrip("/").split("@", 1)[0].lower()
    args = words[1:]
    try:
        match word:
            case "help" | "":
                return Help()
            case "status":
                return _bare(args, word, Status())
            case "incidents":
                return _bare(args, word, Incidents())
            case "approvals":
                return _bare(args, word, Approvals())
            case "incident":
                return _incident(args)
            case "describe":
                return _describe(args)
            case "events":
                return _events(args)
            case "logs":
                return _logs(args)
            case "rca" | "why":
                return _rca(word, args)
            case _:
                return Help(f"unknown command {words[0]!r}")
    except _Bad as exc:
        return Help(str(exc))
