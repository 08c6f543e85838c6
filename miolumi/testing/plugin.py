"""A plugin that serves one scripted chat model as the ``scripted`` provider."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.language_models import BaseChatModel

from miolumi.core.models.registry import ModelProvider, ModelRequest
from miolumi.hookspecs import hookimpl


class ScriptedPlugin:
    """Registers the ``scripted`` model provider, whose every model is ``model``.

    Register it on a plugin manager (``plugins.manager.register(ScriptedPlugin(m),
    name="scripted")``) and set ``MIOLUMI_MODEL=scripted:any`` (or the ``model`` of a
    session) to run a graph against scripted replies.
    """

    def __init__(self, model: BaseChatModel, *, description: str = "scripted replies") -> None:
        self.model = model
        self.description = description

    @hookimpl
    def register_model_providers(self, register: Callable[[ModelProvider], None]) -> None:
        """The ``scripted`` provider: local, always configured."""

        def create(request: ModelRequest) -> BaseChatModel:
            return self.model

        register(
            ModelProvider(
                name="scripted",
                description=self.description,
                create=create,
                is_configured=lambda settings: True,
                local=True,
            )
        )
