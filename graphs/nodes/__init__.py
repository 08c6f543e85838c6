"""Nodes of the turn graphs: small async functions ``(state, runtime) -> partial update``."""
