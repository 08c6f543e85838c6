"""``miolumi chat``: talk to a companion, interactively or one message per stdin line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
from rich.console import Console

from miolumi.cli.errors import EXIT_FAILED, EXIT_USAGE, cli_errors, report
from miolumi.cli.stage import stage_command
from miolumi.config import load_settings
from miolumi.errors import MiolumiError

if TYPE_CHECKING:  # the graph stack is imported when a chat starts, not for --help
    from miolumi.config import Product
    from miolumi.session import ChatSession

HELP = """Commands:
  /help    show this help
  /new     start a new conversation thread with this companion
  /thread  show the current thread id (pass it to --thread to continue later)
  /stage   show where you and this persona stand (relationship stage, axes, history)
  /adult   confirm you are 18 or older (romantic stages stay closed until you do)
  /quit    leave (Ctrl-D works too)
Ctrl-C while a reply streams stops it; the interrupted turn is not recorded."""


@dataclass
class Outcome:
    """How a run of turns went, for the exit code."""

    failed: int = 0


def chat(
    persona: Annotated[
        str | None,
        typer.Option(
            "--persona",
            "-p",
            help="Talk to this Mio persona (default: mio); `miolumi personas list` shows them.",
        ),
    ] = None,
    lumi: Annotated[
        bool, typer.Option("--lumi", help="Talk to Lumi, the orb, instead of a Mio persona.")
    ] = False,
    user: Annotated[
        str, typer.Option("--user", "-u", help="Your user id; everything is kept per user.")
    ] = "local",
    thread: Annotated[
        str | None,
        typer.Option(
            "--thread",
            "-t",
            help="Conversation thread to continue or start (default: your latest one "
            "with this companion).",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model as provider:name, e.g. openai:gpt-4o-mini or local:smollm2.",
        ),
    ] = None,
    voice: Annotated[
        bool,
        typer.Option(
            "--voice",
            help="Speak the replies: played as they stream when aplay, paplay or ffplay is "
            "available, else written as WAV files under <data dir>/voice.",
        ),
    ] = False,
    locale: Annotated[
        str | None,
        typer.Option(
            "--locale",
            help="Your locale, e.g. en-GB or zh-TW: crisis resources of your region "
            "(default: the crisis_locale setting).",
        ),
    ] = None,
) -> None:
    """Chat with a companion. Reads one message per line when stdin is not a terminal."""
    if persona and lumi:
        raise typer.BadParameter("choose --persona or --lumi, not both.")
    from miolumi.services import Services
    from miolumi.session import ChatSession

    product: Product = "lumi" if lumi else "mio"
    with cli_errors():
        services = Services.create(settings=load_settings(**({"voice": True} if voice else {})))
    interactive = sys.stdin.isatty()
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        with cli_errors():
            session = runner.run(
                stack.enter_async_context(
                    ChatSession.open(
                        user_id=user,
                        product=product,
                        agent_id=persona,
                        thread_id=thread,
                        model=model,
                        services=services,
                        locale=locale,
                    )
                )
            )
        if voice:
            from miolumi.cli.voice import spoken, warm_up

            session = spoken(session)
            with cli_errors():
                warm_up(runner, session)
        try:
            outcome = (
                _repl(runner, session) if interactive else _piped(runner, session, sys.stdin.buffer)
            )
        finally:
            runner.run(stack.aclose())
    if outcome.failed:
        raise typer.Exit(EXIT_FAILED)


def _speaker(session: ChatSession) -> str:
    if session.product == "lumi":
        return "Lumi"
    assert session.agent_id is not None
    return session.services.personas.get(session.agent_id).display_name


@dataclass
class _Line:
    """The reply line being printed: whether anything was written to it yet."""

    started: bool = False


async def _stream_reply(session: ChatSession, text: str, console: Console, line: _Line) -> None:
    if session.product == "lumi" and console.is_terminal:
        from miolumi.cli.orb import stream_with_orb  # the orb needs a live terminal

        console.print()
        await stream_with_orb(session, text, console)
        return
    async for event in session.turn(text):
        if event["type"] == "token":
            line.started = True
            console.print(event["text"], end="", markup=False, highlight=False)
            console.file.flush()
    console.print()
    line.started = False


def _run_turn(runner: asyncio.Runner, session: ChatSession, text: str, console: Console) -> bool:
    """Run one turn; report failures on stderr. Returns whether the turn completed.

    KeyboardInterrupt (Ctrl-C) propagates after the reply line is closed.
    """
    line = _Line()
    try:
        runner.run(_stream_reply(session, text, console, line))
    except MiolumiError as exc:
        if line.started:
            console.print()
        report(exc)
        return False
    except KeyboardInterrupt:
        if line.started:
            console.print()
        raise
    return True


def _command(line: str, session: ChatSession, console: Console) -> bool:
    """Handle a slash command; returns False when the user wants to leave."""
    name = line.split()[0].lower()
    if name in ("/quit", "/exit"):
        return False
    if name == "/help":
        console.print(HELP, markup=False, highlight=False)
    elif name == "/new":
        console.print(f"New thread: {session.new_thread()}", highlight=False)
    elif name == "/thread":
        console.print(f"Thread: {session.thread_id}", highlight=False)
    elif name in ("/stage", "/adult"):
        try:
            text = stage_command(session, name)
        except MiolumiError as exc:
            report(exc)
        else:
            console.print(text, markup=False, highlight=False)
    else:
        report(MiolumiError(f"Unknown command {name}: type /help for the list."))
    return True


def _repl(runner: asyncio.Runner, session: ChatSession) -> Outcome:
    console = Console(highlight=False)
    speaker = _speaker(session)
    console.print(
        f"[bold]{speaker}[/] is here. Type /help for commands, /quit to leave. "
        f"[dim](thread {session.thread_id})[/]"
    )
    while True:
        try:
            line = console.input("[bold cyan]you>[/] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return Outcome()
        if line.strip().startswith("/"):
            if not _command(line.strip(), session, console):
                return Outcome()
            continue
        console.print(f"[bold magenta]{speaker}>[/] ", end="")
        try:
            # Failures were shown as they happened; leaving the REPL is still a success.
            _run_turn(runner, session, line, console)
        except KeyboardInterrupt:
            console.print("[dim](interrupted: this turn was not recorded)[/]")


def _lines(stream: BinaryIO) -> Iterator[tuple[int, str | None]]:
    """Yield (line number, text); text is None when the line is not valid UTF-8."""
    for number, raw in enumerate(stream, start=1):
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield number, None


def _piped(runner: asyncio.Runner, session: ChatSession, stream: BinaryIO) -> Outcome:
    console = Console(highlight=False, soft_wrap=True)
    outcome = Outcome()
    for number, text in _lines(stream):
        if text is None:
            report(MiolumiError(f"Line {number} is not valid UTF-8: save the input as UTF-8."))
            outcome.failed += 1
            continue
        if text.strip().startswith("/"):
            if not _command(text.strip(), session, console):
                break
            continue
        if not _run_turn(runner, session, text, console):
            outcome.failed += 1
    return outcome


__all__ = ["EXIT_USAGE", "chat"]
