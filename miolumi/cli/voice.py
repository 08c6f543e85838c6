"""``miolumi say``, ``miolumi voice engines|transcribe``, and spoken chats (``chat --voice``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from miolumi.cli.audio import AudioOutput, find_player, play
from miolumi.cli.errors import EXIT_FAILED, cli_errors, err_console
from miolumi.config import load_settings
from miolumi.errors import AudioInputError

if TYPE_CHECKING:
    from miolumi.core.voice import VoicePlan
    from miolumi.events import Event
    from miolumi.services import Services
    from miolumi.session import ChatSession

app = typer.Typer(help="Voices: the TTS engines, and transcription.", no_args_is_help=True)
VOICE_DIR = "voice"
"""Under the data directory: WAV files of spoken turns when no player is available."""


def _plan(services: Services, persona: str | None, lumi: bool, user: str) -> VoicePlan | None:
    if persona:
        from miolumi.mio.voice import persona_voice_plan

        return persona_voice_plan(services.personas.get(persona))
    if lumi:
        from miolumi.lumi import store
        from miolumi.lumi.voice import lumi_voice_plan

        snapshot = store.current(store.lumi_database(services.settings.relational_url), user)
        return lumi_voice_plan(snapshot.personality if snapshot else None)
    return None


def say(
    text: Annotated[str, typer.Argument(help="What to say; mixed languages are routed.")],
    lang: Annotated[
        str | None,
        typer.Option("--lang", "-l", help="Force one language (en, zh, ja, ...)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write a WAV file instead of playing it."),
    ] = None,
    persona: Annotated[
        str | None, typer.Option("--persona", "-p", help="Speak in this persona's voice.")
    ] = None,
    lumi: Annotated[bool, typer.Option("--lumi", help="Speak in your Lumi's voice.")] = False,
    user: Annotated[str, typer.Option("--user", "-u", help="Whose Lumi.")] = "local",
) -> None:
    """Speak TEXT: play it when an audio player is available, else write a WAV file."""
    from miolumi.services import Services

    with cli_errors():
        services = Services.create(settings=load_settings())
        plan = _plan(services, persona, lumi, user)
        speech = asyncio.run(
            services.voice.synthesize(text, plan=plan, language=lang, user_id=user)
        )
    for failure in speech.failures:
        err_console.print(f"[yellow]warning:[/] {failure.message}", markup=True)
    if not speech.audio.samples:
        raise typer.Exit(EXIT_FAILED)
    player = None if out else find_player()
    output = AudioOutput(
        directory=out.parent if out else services.settings.home / VOICE_DIR, player=player
    )
    if player is not None:
        play(speech.audio, player)
        return
    path = output.write(speech.audio, out.stem if out else f"say-{int(time.time())}")
    engines = ", ".join(speech.engines)
    typer.echo(f"Wrote {path} ({speech.audio.duration:.1f} s, {engines}).")


@app.command("engines")
def engines() -> None:
    """List the TTS engines in order of preference, and why any cannot run here."""
    from miolumi.services import Services

    with cli_errors():
        services = Services.create(settings=load_settings())
        statuses = services.voice.engines()
    table = Table("engine", "ready", "languages", "where", "USD / 1M chars", "licence or fix")
    for status in statuses:
        engine = status.engine
        languages = engine.info.languages if engine else status.spec.languages
        table.add_row(
            status.spec.name,
            "yes" if engine else "no",
            " ".join(sorted(languages)),
            ("local" if engine.info.local else "remote") if engine else "",
            f"{engine.info.price}" if engine else "",
            engine.info.licence if engine else status.reason,
        )
    Console(soft_wrap=True).print(table)


@app.command("transcribe")
def transcribe(
    path: Annotated[Path, typer.Argument(help="A 16-bit PCM WAV file.")],
    lang: Annotated[
        str | None, typer.Option("--lang", "-l", help="The language spoken, if known.")
    ] = None,
) -> None:
    """Print what a WAV file says, and its language."""
    from miolumi.services import Services

    with cli_errors():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AudioInputError(f"Cannot read {path}: {exc.strerror}. Check the path.") from exc
        services = Services.create(settings=load_settings())
        transcript = asyncio.run(services.voice.transcribe(data, language=lang))
    typer.echo(f"[{transcript.language}] {transcript.text}")


# -- spoken chats --------------------------------------------------------------------


def _session_class() -> Callable[..., ChatSession]:
    from miolumi.session import ChatSession

    @dataclass(kw_only=True)
    class SpokenChatSession(ChatSession):
        """A chat session whose replies' audio goes to an :class:`AudioOutput`."""

        output: AudioOutput

        async def turn(self, text: str) -> AsyncIterator[Event]:
            """Run one turn; its audio plays (or is written) as it streams."""
            self.output.start_turn(f"{self.thread_id}-turn-{self.completed_turns + 1}")
            finished = False
            try:
                async for event in super().turn(text):
                    if event["type"] == "audio":
                        self.output.feed(event)
                    yield event
                finished = True
            finally:
                if finished:
                    path = self.output.end_turn()
                    if path is not None:
                        err_console.print(f"[dim](audio: {path})[/]", markup=True)
                else:
                    self.output.stop()

    return SpokenChatSession


def spoken(session: ChatSession) -> ChatSession:
    """``session`` with its replies spoken: played, or written under ``<data dir>/voice``."""
    player = find_player()
    directory = session.services.settings.home / VOICE_DIR
    output = AudioOutput(directory=directory, player=player)
    if player is None:
        err_console.print(
            f"[dim]No audio player (aplay, paplay, ffplay) found: each turn's audio is "
            f"written to {directory}.[/]",
            markup=True,
        )
    values = {f.name: getattr(session, f.name) for f in fields(session)}
    return _session_class()(**values, output=output)


def warm_up(runner: asyncio.Runner, session: ChatSession) -> None:
    """Load the voices before the first turn, so the first sentence is heard at once."""
    runner.run(session.services.voice.warm_up())
