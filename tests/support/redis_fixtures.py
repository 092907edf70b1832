"""Redis fixtures (filled in by the store work)."""
