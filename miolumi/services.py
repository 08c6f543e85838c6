"""The shared resources of a process: settings, plugins, models, personas.

Built once and handed to graphs through the run context, so nodes never read the
environment themselves.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from miolumi.config import Settings, get_settings
from miolumi.core.models import ModelCatalog
from miolumi.mio.registry import PersonaRegistry
from miolumi.plugins import Plugins, get_plugins, load_plugins


@dataclass(frozen=True, kw_only=True)
class Services:
    """Everything a turn needs that outlives the turn."""

    settings: Settings
    plugins: Plugins
    models: ModelCatalog
    personas: PersonaRegistry

    @classmethod
    def create(
        cls, *, settings: Settings | None = None, plugins: Plugins | None = None
    ) -> Services:
        """Build the services; plugins default to a fresh load for the given settings."""
        settings = settings or get_settings()
        plugins = plugins or load_plugins(settings)
        return cls(
            settings=settings,
            plugins=plugins,
            models=ModelCatalog(plugins=plugins, settings=settings),
            personas=PersonaRegistry.from_plugins(plugins),
        )


_lock = threading.Lock()
_default: Services | None = None


def default_services() -> Services:
    """Return the process-wide services built from the environment, once."""
    global _default
    with _lock:
        if _default is None:
            _default = Services.create(settings=get_settings(), plugins=get_plugins())
        return _default
