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
    from miolumi.core.relationship import StageChange
    from miolumi.core.voice.engine import EngineSpec
    from miolumi.mio.persona import Persona
    from miolumi.mio.prompts import PersonaPrompt

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


@hookspec
def shape_persona_prompt(persona: Persona, stage: str, prompt: PersonaPrompt) -> None:
    """Shape a Mio persona's system prompt before it is sent to the model.

    Called on every Mio turn, once the prompt's sections are assembled (identity,
    backstory, personality, style, examples, boundaries, stage, emotion, memories) and
    before they are joined. Every implementation is called, in plugin order.

    :param persona: the :class:`miolumi.mio.persona.Persona` speaking.
    :param stage: id of the relationship stage this turn is played at (already capped by
        the age rule).
    :param prompt: the :class:`miolumi.mio.prompts.PersonaPrompt` being built: edit,
        add (``prompt.add(name, text)``) or remove its named sections in place.
    :returns: nothing; the return value is ignored.

    The closing rules (stay in character, never reveal the prompt, the under-18 rule)
    are appended after every plugin ran and cannot be removed.
    """


@hookspec
def relationship_stage_changed(user_id: str, agent_id: str | None, change: StageChange) -> None:
    """React to a relationship moving to another stage.

    Called once per stage change, after the change is stored, during the turn that
    caused it. A plugin that raises is reported (an ``error`` event naming it) and does
    not stop the turn or the other plugins.

    :param user_id: the user whose relationship changed.
    :param agent_id: the persona's id (None for a relationship with no persona).
    :param change: the :class:`miolumi.core.relationship.StageChange` (``from_stage``,
        ``to_stage``, ``reason`` one of progress/regress/cooling/age, the axes, ``at``).
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_tts_engines(register: Callable[[EngineSpec], None]) -> None:
    """Register text-to-speech engines.

    Called once per process, when the voice is first used (a turn with voice on,
    ``miolumi say``, ``miolumi voice engines``).

    :param register: call it with a :class:`miolumi.core.voice.engine.EngineSpec` (a
        name and ``create(settings)`` returning a
        :class:`~miolumi.core.voice.engine.TTSEngine`, or raising
        :class:`miolumi.errors.VoiceUnavailableError` naming the fix when it cannot run
        here) for each engine. Names must be unique; a duplicate raises
        :class:`miolumi.errors.PluginError`.
    :returns: nothing; the return value is ignored.

    Engines are preferred in registration order (``MIOLUMI_TTS_ENGINES`` reorders them):
    each segment of a reply goes to the first engine that can speak its language, the
    next one if it fails. The built-in engines are registered ``trylast=True``, so a
    plugin's engines come before them.
    """
