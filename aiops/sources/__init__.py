"""Sources: where ClusterEvents come from.

``kubewatch`` turns raw Kubernetes object bodies into events (pure detectors); an
``alertmanager`` source (webhook payload -> events) will sit beside it. Fed by the operator,
the API and the CLI; consumed by the pipeline (dedup, rules).
"""
