"""Test and demo support shipped with the package: an in-memory Kubernetes API server.

Fed by: tests (``tests/support/kube_fixtures.py``) and ``aiops demo``. Nothing in the operator's
production path imports this package.
"""

from aiops.emulator.emulator import Call, ClusterEmulator, running_emulator

__all__ = ["Call", "ClusterEmulator", "running_emulator"]
