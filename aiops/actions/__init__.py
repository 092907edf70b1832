"""Actions: typed Kubernetes remediations and reads, each declaring its base risk (see ``catalog``)."""
