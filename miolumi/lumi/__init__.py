"""Lumi: one faceless companion, an orb of light whose personality grows from you."""
