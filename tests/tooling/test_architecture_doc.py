"""docs/architecture.md and the import-linter contracts in pyproject.toml tell the same story.

The layer line in the doc must list the contract's layers in order, every top-level module or
package of ``aiops`` must have a row in the doc's module table, and every door the doc names
(``only X imports Y``) must be a ``protected`` contract. A change to either side without the
other fails here, so the drawn architecture cannot silently drift from the enforced one.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _contracts() -> list[dict[str, Any]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = data["tool"]["importlinter"]["contracts"]
    return contracts


def _layers_in_contract() -> list[set[str]]:
    (layers,) = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    return [{name.strip().removeprefix("aiops.") for name in layer.split("|")} for layer in layers]


def _layers_in_doc() -> list[set[str]]:
    match = re.search(r"Layers are enforced by import-linter \(`make lint`\): `([^`]+)`", DOC)
    assert match, "docs/architecture.md lost its 'Layers are enforced by import-linter' line"
    text = " ".join(match.group(1).split())
    return [{name.strip() for name in layer.split("|")} for layer in text.split("→")]


def test_the_doc_lists_the_contract_layers_in_order() -> None:
    assert _layers_in_doc() == _layers_in_contract()


def test_every_top_level_module_has_a_row_in_the_module_table() -> None:
    package = ROOT / "aiops"
    names = {p.stem for p in package.glob("*.py") if p.stem not in {"__init__", "__main__"}}
    names |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    names -= {"defaults"}  # package data (the default rules and playbooks), no code
    rows = "\n".join(line for line in DOC.splitlines() if line.startswith("| `"))
    missing = sorted(n for n in names if f"`{n}.py`" not in rows and f"`{n}/`" not in rows)
    assert missing == []


def test_every_door_is_a_protected_contract_and_named_in_the_doc() -> None:
    doors = {
        (tuple(c["protected_modules"]), tuple(c["allowed_importers"]))
        for c in _contracts()
        if c["type"] == "protected"
    }
    assert doors == {
        (("kubernetes_asyncio",), ("aiops.kube",)),
        (("redis", "fakeredis"), ("aiops.store",)),
        (("kopf",), ("aiops.operator",)),
        (("aiops.emulator",), ("aiops.demo",)),
        (("kmock",), ("aiops.emulator",)),
    }
    prose = " ".join(DOC.split())
    for phrase in (
        "only `aiops.kube` imports `kubernetes_asyncio`",
        "only `aiops.store` imports `redis` and `fakeredis`",
        "only `aiops.operator` imports `kopf`",
        "only `aiops.demo` imports `aiops.emulator`",
        "only the emulator imports `kmock`",
    ):
        assert phrase in prose, phrase
