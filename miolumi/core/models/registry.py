"""Provider registration and model resolution.

A model is named ``"provider:name"`` (``"openai:gpt-4o-mini"``, ``"local:smollm2"``) or
by a bare name; with no name at all, the first configured provider serves its default.
Providers come from the ``register_model_providers`` hook, never from an if/elif chain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.language_models import BaseChatModel

from miolumi.config import Settings
from miolumi.errors import MiolumiError, ModelNotConfiguredError, PluginError
from miolumi.plugins import Plugins

NOT_CONFIGURED = (
    "No model configured: set MIOLUMI_MODEL and MIOLUMI_BASE_URL for an OpenAI-compatible "
    "endpoint, or install the local model with: pip install 'miolumi[local]'"
)


@dataclass(frozen=True, kw_only=True)
class ModelRequest:
    """What a provider needs to build a chat model."""

    name: str | None
    """Model name within the provider; None asks for the provider's default."""
    settings: Settings


def _no_explanation(exc: BaseException, settings: Settings) -> MiolumiError | None:
    return None


@dataclass(frozen=True, kw_only=True)
class ModelProvider:
    """A source of chat models, registered by a plugin."""

    name: str
    """Unique provider name, the part before ``:`` in a model spec."""
    description: str
    create: Callable[[ModelRequest], BaseChatModel]
    """Build a chat model; may raise a :class:`~miolumi.errors.ModelError` naming the fix."""
    is_configured: Callable[[Settings], bool]
    """Whether the provider can serve when the user named no provider."""
    explain_error: Callable[[BaseException, Settings], MiolumiError | None] = _no_explanation
    """Turn a provider exception into a domain error naming the fix, or None."""
    local: bool = False
    """True when the model runs in-process (no network, no cost)."""


@dataclass(frozen=True, kw_only=True)
class ResolvedModel:
    """A chat model together with the provider that made it."""

    provider: ModelProvider
    name: str
    chat: BaseChatModel
    settings: Settings = field(repr=False)

    @property
    def spec(self) -> str:
        """The canonical ``provider:name`` of this model."""
        return f"{self.provider.name}:{self.name}"

    def explain(self, exc: BaseException) -> MiolumiError | None:
        """Translate a failure of this model into a domain error, if the provider can."""
        if isinstance(exc, MiolumiError):
            return exc
        return self.provider.explain_error(exc, self.settings)


class ModelCatalog:
    """The registered providers and a cache of the chat models built from them.

    With ``callbacks``, every model handed out carries them, with metadata naming it
    (``miolumi_provider``, ``miolumi_model``, ``miolumi_local``): this is how the cost
    ledger sees every call.
    """

    def __init__(
        self,
        *,
        plugins: Plugins,
        settings: Settings,
        callbacks: Sequence[BaseCallbackHandler] = (),
    ) -> None:
        self._settings = settings
        self._callbacks = list(callbacks)
        self._providers: dict[str, ModelProvider] = {}
        self._cache: dict[tuple[str, str | None], ResolvedModel] = {}
        self._by_spec: dict[str, ResolvedModel] = {}
        self._lock = threading.Lock()
        plugins.hook.register_model_providers(register=self._register)

    def _register(self, provider: ModelProvider) -> None:
        if provider.name in self._providers:
            raise PluginError(
                f"Two plugins register the model provider {provider.name!r}: "
                "uninstall one, or rename its provider."
            )
        self._providers[provider.name] = provider

    @property
    def providers(self) -> list[ModelProvider]:
        """Providers in the order they are asked (the default last)."""
        return list(self._providers.values())

    def _choose(self, spec: str | None) -> tuple[ModelProvider, str | None]:
        if spec:
            prefix, sep, rest = spec.partition(":")
            if sep and prefix in self._providers:
                return self._providers[prefix], rest or None
        wanted = self._settings.provider
        if wanted:
            if wanted not in self._providers:
                known = ", ".join(self._providers)
                raise ModelNotConfiguredError(
                    f"Unknown model provider {wanted!r} in MIOLUMI_PROVIDER: use one of {known}."
                )
            return self._providers[wanted], spec
        for provider in self._providers.values():
            if provider.is_configured(self._settings):
                return provider, spec
        raise ModelNotConfiguredError(NOT_CONFIGURED)

    def resolve(self, spec: str | None = None) -> ResolvedModel:
        """Return the chat model for ``spec`` (default: ``settings.model``), built once.

        The ``spec`` of a model the catalog handed out (kept in turn state, ledgers and
        events) always resolves back to that same model, even where the provider named
        it itself (the local model's file name, a server's default model).
        """
        spec = spec if spec is not None else self._settings.model
        with self._lock:
            known = self._by_spec.get(spec) if spec else None
        if known is not None:
            return known
        provider, name = self._choose(spec)
        key = (provider.name, name)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                chat = provider.create(ModelRequest(name=name, settings=self._settings))
                model_name = name or _model_name(chat) or "default"
                if self._callbacks:
                    chat = _instrumented(chat, provider, model_name, self._callbacks)
                cached = ResolvedModel(
                    provider=provider, name=model_name, chat=chat, settings=self._settings
                )
                self._cache[key] = cached
                self._by_spec.setdefault(cached.spec, cached)
            return cached


def _model_name(chat: BaseChatModel) -> str | None:
    for attr in ("model_name", "model"):
        value = getattr(chat, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def _instrumented(
    chat: BaseChatModel,
    provider: ModelProvider,
    name: str,
    callbacks: list[BaseCallbackHandler],
) -> BaseChatModel:
    """Give ``chat`` the catalog's callbacks and metadata naming it, in place.

    A handler of the same class attached by an earlier catalog is replaced, so a model
    object shared by two catalogs reports to the latest one only.
    """
    from miolumi.core.cost.callback import model_metadata

    chat.metadata = {
        **(chat.metadata or {}),
        **model_metadata(provider=provider.name, model=name, local=provider.local),
    }
    kinds = {type(handler) for handler in callbacks}
    own = chat.callbacks
    if isinstance(own, BaseCallbackManager):
        for handler in list(own.handlers):
            if type(handler) in kinds:
                own.remove_handler(handler)
        for handler in callbacks:
            own.add_handler(handler, inherit=False)
    else:
        kept = [handler for handler in own or [] if type(handler) not in kinds]
        chat.callbacks = [*kept, *callbacks]
    return chat
