"""The shared resources of a process: settings, plugins, models, personas.

Built once and handed to graphs through the run context, so nodes never read the
environment themselves.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import get_args

from miolumi.config import Product, Settings, get_settings
from miolumi.core.cost import CostTracker
from miolumi.core.emotion import EmotionEngine
from miolumi.core.guardrails import CrisisTable, FlagStore, Guardrails, Judge, PolicyBook
from miolumi.core.memory import MemoryManager
from miolumi.core.memory.embeddings import QueryEmbeddings, UseM3Embedding
from miolumi.core.memory.manager import CACHED_QUERIES
from miolumi.core.memory.writer import OUTBOX, MemoryWriter
from miolumi.core.models import ModelCatalog
from miolumi.core.relationship import RelationshipStore
from miolumi.core.voice import VoiceService
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
    guardrails: Guardrails
    """Input and output checks, crisis care and flag records, for every product."""
    voice: VoiceService
    """Text to speech (engines from plugins, routed by language) and speech to text."""
    memory: MemoryManager
    """Memories of every user, per persona and global (Chroma, opened on first use)."""
    memory_writer: MemoryWriter
    """Writes memories after turns, in the background; ``drain()`` waits for it."""
    classifier_embeddings: QueryEmbeddings | None
    """The bundled model's message embeddings for the local classifiers (guardrails,
    emotion) when memory embeds with another model (``classifier_embeddings`` setting);
    None when memory's own vectors serve them, or the setting is off."""

    @classmethod
    def create(
        cls, *, settings: Settings | None = None, plugins: Plugins | None = None
    ) -> Services:
        """Build the services; plugins default to a fresh load for the given settings."""
        settings = settings or get_settings()
        plugins = plugins or load_plugins(settings)
        cost = CostTracker(settings=settings)
        models = ModelCatalog(plugins=plugins, settings=settings, callbacks=[cost.handler])
        relationships = RelationshipStore(url=settings.relational_url)
        memory = MemoryManager(settings=settings)
        return cls(
            settings=settings,
            plugins=plugins,
            models=models,
            cost=cost,
            personas=PersonaRegistry.from_plugins(
                plugins, user_dir=settings.home / USER_PERSONAS_DIR
            ),
            relationships=relationships,
            emotion=EmotionEngine(),
            guardrails=_guardrails(settings, models, relationships),
            voice=VoiceService(settings=settings, plugins=plugins, cost=cost),
            memory=memory,
            memory_writer=MemoryWriter(manager=memory, outbox=settings.home / OUTBOX),
            classifier_embeddings=_classifier_embeddings(settings, memory),
        )


def _classifier_embeddings(settings: Settings, memory: MemoryManager) -> QueryEmbeddings | None:
    if not settings.classifier_embeddings or memory.embedding_model == UseM3Embedding.name():
        return None
    return QueryEmbeddings(UseM3Embedding(), size=CACHED_QUERIES)


def _guardrails(
    settings: Settings, models: ModelCatalog, relationships: RelationshipStore
) -> Guardrails:
    judge = None
    if settings.guard_judge_model:
        judge = Judge(model=models.resolve(settings.guard_judge_model).chat)
    return Guardrails(
        policies=PolicyBook(table=settings.guard_policy, products=get_args(Product)),
        crisis=CrisisTable.create(
            overrides=settings.crisis_resources, locale=settings.crisis_locale
        ),
        ages=relationships.age,
        flags=FlagStore(url=settings.relational_url),
        judge=judge,
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
