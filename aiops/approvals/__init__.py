"""Approvals: the request model (``model``) and the exactly-once decision gate (``gate``)."""
