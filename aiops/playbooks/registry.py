"""PlaybookRegistry: an immutable snapshot of the playbooks aiops knows, by id.

Fed by: :mod:`aiops.playbooks.loader` (built-in and configured files at startup) and the operator,
which adds and removes ``Playbook`` resources at runtime with :meth:`PlaybookRegistry.with_resource`
and :meth:`PlaybookRegistry.without`, each returning a new registry (swap the reference; readers
holding the old snapshot are never disturbed). Consumed by: the rules loader (ids and triggers must
exist), the executor (``get(id)``) and the CLI.

Two layers: *file* playbooks (built-ins and configured directories, fixed at startup) and
*resource* playbooks. Override policy: a resource may not take the id of a file playbook unless
the registry was built with ``allow_override=True``. The default protects operator-reviewed
playbooks (that rules.yaml routes to) from anyone allowed to create a namespaced ``Playbook``
resource. When overriding is allowed, the resource must still accept every trigger of the file
playbook it shadows (so rules validated against it stay valid), and removing the resource brings
the file playbook back. Two resources with the same id (e.g. in two namespaces) conflict; an
update of the same resource replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from aiops import errors
from aiops.playbooks import loader
from aiops.playbooks.model import Playbook

__all__ = ["PlaybookConflict", "PlaybookRegistry", "UnknownPlaybook", "builtin_playbook_dir"]


class UnknownPlaybook(errors.ConfigError):
    """No playbook has the requested id (``.playbook_id``)."""

    def __init__(self, playbook_id: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown playbook {playbook_id!r}; known: {', '.join(known) or 'none'}")
        self.playbook_id = playbook_id


class PlaybookConflict(errors.ConfigError):
    """A resource playbook was refused: its id belongs to another playbook (see the module docstring)."""


def builtin_playbook_dir() -> Path:
    """The directory of the built-in playbooks shipped in the package (``aiops/defaults/playbooks``).

    Raises :class:`aiops.errors.ConfigError` if the package was installed without them.
    """
    path = Path(str(resources.files("aiops").joinpath("defaults", "playbooks")))
    if not path.is_dir():
        raise errors.ConfigError(f"built-in playbooks missing: {path} is not a directory")
    return path


class PlaybookRegistry:
    """Playbooks by id; immutable, cheap to copy with one resource more or less.

    ``PlaybookRegistry(playbooks)`` builds the file layer; duplicate ids raise
    :class:`ValidationFailed` naming both sources. Iterating yields playbooks sorted by id.
    """

    def __init__(self, playbooks: Iterable[Playbook] = (), *, allow_override: bool = False) -> None:
        files: dict[str, Playbook] = {}
        problems = []
        for playbook in playbooks:
            earlier = files.setdefault(playbook.id, playbook)
            if earlier is not playbook:
                message = f"duplicate playbook id {playbook.id!r}: already defined at {earlier.location}"
                problems.append(errors.Problem(playbook.source, playbook.line, "id", message))
        if problems:
            raise errors.ValidationFailed(problems)
        self._files: Mapping[str, Playbook] = MappingProxyType(files)
        self._resources: Mapping[str, Playbook] = MappingProxyType({})
        self._allow_override = allow_override

    @classmethod
    def load(
        cls, paths: Iterable[Path] = (), *, builtins: bool = True, allow_override: bool = False
    ) -> PlaybookRegistry:
        """The built-in playbooks (unless ``builtins=False``) plus those under ``paths``.

        Raises :class:`ValidationFailed` with every problem, including a configured playbook
        reusing a built-in id.
        """
        every = [builtin_playbook_dir(), *paths] if builtins else list(paths)
        return cls(loader.load_playbooks(every), allow_override=allow_override)

    @property
    def allow_override(self) -> bool:
        """Whether a resource may shadow a file playbook of the same id."""
        return self._allow_override

    def get(self, playbook_id: str) -> Playbook:
        """The playbook with ``playbook_id`` (a resource shadows a file one only when overriding is allowed).

        Raises :class:`UnknownPlaybook`.
        """
        playbook = self._resources.get(playbook_id)
        if playbook is None:
            playbook = self._files.get(playbook_id)
        if playbook is None:
            raise UnknownPlaybook(playbook_id, self.ids())
        return playbook

    def ids(self) -> list[str]:
        """Every id, sorted."""
        return sorted({*self._files, *self._resources})

    def is_resource(self, playbook_id: str) -> bool:
        """True when ``playbook_id`` currently resolves to a ``Playbook`` resource."""
        return playbook_id in self._resources

    def __contains__(self, playbook_id: object) -> bool:
        return playbook_id in self._files or playbook_id in self._resources

    def __iter__(self) -> Iterator[Playbook]:
        return (self.get(playbook_id) for playbook_id in self.ids())

    def __len__(self) -> int:
        return len(self.ids())

    def with_resource(self, playbook: Playbook) -> PlaybookRegistry:
        """A new registry with ``playbook`` (from a resource) added, or replacing the same resource.

        Raises :class:`PlaybookConflict` if the id belongs to a file playbook and overriding is
        not allowed, if an override drops a trigger of the file playbook, or if another resource
        (different ``source``) already has the id.
        """
        other = self._resources.get(playbook.id)
        if other is not None and other.source != playbook.source:
            raise PlaybookConflict(
                f"{playbook.source}: playbook id {playbook.id!r} is already defined by {other.source}"
            )
        shadowed = self._files.get(playbook.id)
        if shadowed is not None:
            if not self._allow_override:
                raise PlaybookConflict(
                    f"{playbook.source}: playbook id {playbook.id!r} is defined at {shadowed.location}; "
                    "overriding file playbooks with resources is disabled"
                )
            dropped = [t.value for t in shadowed.triggers if t not in playbook.triggers]
            if dropped:
                raise PlaybookConflict(
                    f"{playbook.source}: an override of {playbook.id!r} must keep its triggers; "
                    f"missing {', '.join(dropped)}"
                )
        return self._replace({**self._resources, playbook.id: playbook})

    def without(self, playbook_id: str, *, source: str | None = None) -> PlaybookRegistry:
        """A new registry without the *resource* playbook ``playbook_id``.

        File playbooks are never removed: if the id is not a resource this returns ``self``
        (an idempotent delete). Pass the deleted resource's ``source`` (``Playbook/ns/name``) so
        that deleting a resource that was refused for a clashing id does not remove the resource
        that holds the id: with a different ``source`` this also returns ``self``.
        """
        current = self._resources.get(playbook_id)
        if current is None or (source is not None and current.source != source):
            return self
        return self._replace({k: v for k, v in self._resources.items() if k != playbook_id})

    def _replace(self, resources_: dict[str, Playbook]) -> PlaybookRegistry:
        clone = object.__new__(PlaybookRegistry)
        clone._files = self._files
        clone._resources = MappingProxyType(resources_)
        clone._allow_override = self._allow_override
        return clone
