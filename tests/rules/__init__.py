"""Tests of rules: loading with located errors, matching semantics and the default routing."""
