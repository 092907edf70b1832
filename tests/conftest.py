"""Shared test wiring: fixtures live in ``tests/support`` plugin modules, one per external system."""

pytest_plugins = [
    "tests.support.redis_fixtures",
    "tests.support.kube_fixtures",
    "tests.support.operator_fixtures",
]
