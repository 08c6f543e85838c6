"""Mio: a circle of personas, each with its own identity and relationship with you."""
