"""Events: the ClusterEvent model, incidents and their deduplication."""
