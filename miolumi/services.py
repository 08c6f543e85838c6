"""The shared resources of a process: settings, plugins, models, personas.

Built once and handed to graphs through the run context, so nodes never read the
environment themselves.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from miolumi.config import Settings, get_settings
from miolumi.core.cost import CostTracker
from miolumi.core.emotion import EmotionEngine
from miolumi.core.models import ModelCatalog
from miolumi.core.relationship import RelationshipStore
from miolumi.mio.registry import USER_PERSONAS_DIR, PersonaRegistry
from miolumi.plugins import Plugins, get_plugins, load_plugins


@dataclass(frozen=True, kw_only=True)
class Services:
    """Everything a turn needs that outlives the turn."""

    settings: Settings
    plugins: Plugins
    models: ModelCatalog
    cost: CostTracker
    """Prices, budgets and the usage ledger; its handler is on every model the catalog gives."""
    personas: PersonaRegistry
    relationships: RelationshipStore
    emotion: EmotionEngine
    """The one emotion engine every product uses (Mio and Lumi alike)."""

    @classmethod
    def create(
        cls, *, settings: Settings | None = None, plugins: Plugins | None = None
    ) -> Services:
        """Build the services; plugins default to a fresh load for the given settings."""
        settings = settings or get_settings()
        plugins = plugins or load_plugins(settings)
        cost = CostTracker(settings=settings)
        return cls(
            settings=settings,
            plugins=plugins,
            models=ModelCatalog(plugins=plugins, settings=settings, callbacks=[cost.handler]),
            cost=cost,
            personas=PersonaRegistry.from_plugins(
                plugins, user_dir=settings.home / USER_PERSONAS_DIR
            ),
            relationships=RelationshipStore(url=settings.relational_url),
            emotion=EmotionEngine(),
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
