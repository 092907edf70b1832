"""Tests: approvals."""
