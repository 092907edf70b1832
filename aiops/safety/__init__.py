"""Safe automation: blast-radius guards, the re-check of an approved plan, and verification.

``guards`` decide whether a planned write may happen (budgets, rate limits and concurrency leases
reserved in Redis; the pure rules, storm halts, PodDisruptionBudgets, namespaces and pause, are in
``guard_rules``); ``scope`` keeps every step in its namespaces; ``recheck`` compares an approved
plan with the cluster right before acting; ``verify`` polls a write's expected outcome afterwards,
judged by the conditions in ``checks``.
docs/safety.md lists every guarantee with the guard that enforces it and the test that proves it.
"""
