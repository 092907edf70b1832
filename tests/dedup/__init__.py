"""Tests: dedup."""
