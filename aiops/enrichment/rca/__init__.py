"""Root-cause analysis: evidence about an incident → a heuristic or LLM-backed RCA result."""
