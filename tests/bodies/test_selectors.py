"""``aiops.bodies.selector_matches`` and ``selector_string`` against the meta/v1 LabelSelector rules.

Examples from the Kubernetes documentation ("Labels and Selectors": set-based requirements
In/NotIn/Exists/DoesNotExist, ANDed with matchLabels), the PodDisruptionBudget rule for empty and
null selectors, and a hypothesis property test comparing the reader with a direct transcription
of the API reference's definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiops import bodies

LABELS = {"environment": "production", "tier": "frontend", "app": "web"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({}, True),  # empty: everything
        (None, False),  # null: nothing
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "api"}}, False),
        ({"matchLabels": {"missing": ""}}, False),
        (
            {"matchExpressions": [{"key": "environment", "operator": "In", "values": ["production", "qa"]}]},
            True,
        ),
        ({"matchExpressions": [{"key": "environment", "operator": "In", "values": ["qa"]}]}, False),
        ({"matchExpressions": [{"key": "missing", "operator": "In", "values": ["x"]}]}, False),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["frontend", "backend"]}]},
            False,
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["backend"]}]}, True),
        (
            {"matchExpressions": [{"key": "missing", "operator": "NotIn", "values": ["x"]}]},
            True,
        ),  # absent key
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "missing", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "missing", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
        (  # matchLabels AND matchExpressions
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]}],
            },
            False,
        ),
        ({"matchLabels": None, "matchExpressions": None}, True),
    ],
)
def test_selector_matches_as_the_api_reference_defines(
    selector: dict[str, Any] | None, matches: bool
) -> None:
    assert bodies.selector_matches(selector, LABELS) is matches


def test_selector_string_spells_a_label_selector_query() -> None:
    selector = {
        "matchLabels": {"tier": "frontend", "app": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["a", "b"]},
            {"key": "zone", "operator": "NotIn", "values": ["z1"]},
            {"key": "canary", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert (
        bodies.selector_string(selector)
        == "app=web,tier=frontend,env in (a,b),zone notin (z1),canary,!legacy"
    )
    assert bodies.selector_string({}) == "" and bodies.selector_string(None) == ""


# ---- property: the reader agrees with a direct transcription of the reference ----

_keys = st.sampled_from(["app", "tier", "env", "zone"])
_values = st.sampled_from(["a", "b", "c"])
_labels = st.dictionaries(_keys, _values, max_size=4)
_requirement = st.one_of(
    st.fixed_dictionaries(
        {
            "key": _keys,
            "operator": st.sampled_from(["In", "NotIn"]),
            "values": st.lists(_values, min_size=1, max_size=3),
        }
    ),
    st.fixed_dictionaries({"key": _keys, "operator": st.sampled_from(["Exists", "DoesNotExist"])}),
)
_selectors = st.fixed_dictionaries(
    {},
    optional={
        "matchLabels": st.dictionaries(_keys, _values, max_size=2),
        "matchExpressions": st.lists(_requirement, max_size=3),
    },
)


def _spec(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """meta/v1 LabelSelector: each matchLabels pair is an ``In`` of one value; all requirements ANDed."""
    requirements = [
        {"key": k, "operator": "In", "values": [v]} for k, v in selector.get("matchLabels", {}).items()
    ] + list(selector.get("matchExpressions", []))
    for r in requirements:
        key, values = r["key"], set(r.get("values", []))
        holds = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[r["operator"]]
        if not holds:
            return False
    return True


@settings(database=None, deadline=None, max_examples=300)
@given(selector=_selectors, labels=_labels)
def test_selector_matches_agrees_with_the_reference(selector: dict[str, Any], labels: dict[str, str]) -> None:
    assert bodies.selector_matches(selector, labels) is _spec(selector, labels)


@settings(database=None, deadline=None, max_examples=100)
@given(selector=_selectors, labels=_labels, extra=_labels)
def test_a_selector_of_match_labels_only_is_satisfied_by_more_labels(
    selector: dict[str, Any], labels: dict[str, str], extra: dict[str, str]
) -> None:
    only = {"matchLabels": selector.get("matchLabels", {})}
    if bodies.selector_matches(only, labels):
        assert bodies.selector_matches(only, {**extra, **labels})
