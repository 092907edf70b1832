"""The runtime: builds every component once from :class:`Settings` and runs them in one loop.

Fed by: ``aiops run`` (``aiops.cli.run``), the demo, tests and benches. Two jobs, one module each:
:mod:`aiops.runtime.services` builds the components (:func:`build` → :class:`Services`), and
:mod:`aiops.runtime.serve` runs the kopf operator, uvicorn, the approval sweeper and the alert
intake together until stopped (:func:`serve`), supervising them. Configuration errors (invalid
rules or playbooks) raise :class:`aiops.errors.ValidationFailed` before anything starts.
"""

from aiops.runtime.serve import GC_YOUNG_THRESHOLD, serve, tune_gc
from aiops.runtime.services import Services, build, own_namespace

__all__ = ["GC_YOUNG_THRESHOLD", "Services", "build", "own_namespace", "serve", "tune_gc"]
