"""Every pluggy hook of miolumi, documented where it is declared.

A plugin is any module or object with functions named after these hooks and
decorated with :data:`hookimpl`. Built-in behaviour is itself a set of plugins
(see ``miolumi.plugins.DEFAULT_PLUGINS``); third-party plugins are found through
the ``miolumi`` entry-point group.

Registration hooks receive a ``register`` callback instead of returning lists, so
the core owns naming, duplicate detection and error reporting in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from miolumi.core.models.registry import ModelProvider
    from miolumi.mio.persona import Persona

PROJECT = "miolumi"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_model_providers(register: Callable[[ModelProvider], None]) -> None:
    """Register chat-model providers.

    Called once, when the model catalog is first built.

    :param register: call it with a :class:`miolumi.core.models.registry.ModelProvider`
        for each provider the plugin offers. Names must be unique; a second provider
        with a name already taken raises :class:`miolumi.errors.PluginError`.
    :returns: nothing; the return value is ignored.

    When the user names no provider, providers are asked in registration order
    whether they are configured; implementations marked ``trylast=True`` (the
    embedded local model) are asked last and so act as the default.
    """


@hookspec
def register_personas(register: Callable[[Persona], None]) -> None:
    """Register Mio personas.

    Called once, when the persona registry is first built.

    :param register: call it with a :class:`miolumi.mio.persona.Persona` for each
        persona. Ids must be unique across all plugins; a duplicate is reported as
        an error naming both plugins, and the first registration is kept.
    :returns: nothing; the return value is ignored.
    """
