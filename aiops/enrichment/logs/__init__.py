"""Log analysis for incidents: a failure-pattern library, a one-pass scanner, Drain template mining.

Modules, in data-flow order: :mod:`.patterns` (categories and regexes, as data), :mod:`.scan`
(hyperscan or ``re``), :mod:`.templates` (drain3 with masking; Loghub evaluation helpers) and
:mod:`.analyze` (ranked :class:`~.analyze.Finding` s and a template summary). Entry point::

    from aiops.enrichment.logs import analyze
    result = analyze.analyze(open("pod.log"))   # -> analyze.Analysis

See docs/logs.md for the categories, the benchmark and how the template configuration was chosen.
"""
