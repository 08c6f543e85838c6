"""miolumi: an open-source framework for AI companions.

Two products share one core: Mio, a circle of personas, and Lumi, a single
companion shown as an orb of light. See README.md for the tour.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("miolumi")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
