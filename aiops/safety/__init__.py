"""Safe automation: blast-radius guards, the re-check of an approved plan, and verification.

``guards`` decide whether a planned write may happen (budgets, rate limits, concurrency, storm
halts, PodDisruptionBudgets, namespaces, pause); ``recheck`` compares an approved plan with the
cluster right before acting; ``verify`` checks a write's expected outcome afterwards.
docs/safety.md lists every guarantee with the guard that enforces it and the test that proves it.
"""
