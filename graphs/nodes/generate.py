"""``generate``: streams the reply from the chat model as token events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from miolumi.core.voice.splitter import SentenceSplitter
from miolumi.events import Usage
from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.documents import render
from miolumi.graphs.nodes.emotion import ReplyMood
from miolumi.graphs.nodes.guard import ReplyGate
from miolumi.graphs.nodes.speech import start_speech
from miolumi.graphs.state import TurnState

SystemPrompt = Callable[[TurnState, TurnContext], str]
"""Builds the system prompt of a product (persona identity, Lumi's snapshot, ...)."""
PromptFacts = Callable[[TurnState, TurnContext], Sequence[str]]
"""The parts of a product's system prompt its replies may say (a persona's identity and
story): the reply gate does not count repeating them as leaking the prompt."""


def no_facts(state: TurnState, context: TurnContext) -> Sequence[str]:
    """A product whose prompt holds nothing its replies may repeat."""
    return ()


class Node(Protocol):
    """A turn-graph node: ``(state, runtime) -> partial update``."""

    async def __call__(self, state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Run the node on ``state``."""
        ...


def prompt_messages(state: TurnState, system: str) -> list[BaseMessage]:
    """The messages sent to the model: system prompt, recent history, the user's message.

    The documents given with this turn (quoted as data) and the guardrails' note of this
    turn (crisis care, stay yourself) end the system prompt.
    """
    if state.quoted:
        system = f"{system}\n\n{render(state.quoted)}"
    if state.guard_note:
        system = f"{system}\n\n{state.guard_note}"
    return [SystemMessage(system), *state.messages, HumanMessage(state.user_input)]


def make_generate(system_prompt: SystemPrompt, facts: PromptFacts = no_facts) -> Node:
    """Build the ``generate`` node of a product from its system-prompt function.

    ``facts``: what of that prompt the replies may say (see :data:`PromptFacts`).
    """

    def prompt(state: TurnState, context: TurnContext) -> tuple[str, Sequence[str]]:
        return system_prompt(state, context), facts(state, context)

    async def generate(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Stream the reply, emitting a token event per chunk."""
        spec = state.model_override or runtime.context.model  # a budget may degrade it
        model = runtime.context.resources().models.resolve(spec)
        # Prompts read stored state (Lumi's personality, plugins): off the event loop.
        system, sayable = await asyncio.to_thread(prompt, state, runtime.context)
        messages = prompt_messages(state, system)
        parts: list[str] = []
        usage: Usage | None = None
        mood = ReplyMood(engine=runtime.context.resources().emotion, state=state, runtime=runtime)
        speech = start_speech(state, runtime)  # None unless the turn is spoken
        sentences = SentenceSplitter()
        drafts = SentenceSplitter()  # the raw stream, for speech to start a token early

        def release(sentence: str) -> None:
            """A complete sentence of the reply is released here (speech starts on it)."""
            if speech is not None:
                speech.say(sentence)

        def draft(text: str) -> None:
            """Raw model text: start speaking the sentence it probably ends (not yet heard)."""
            if speech is not None:
                drafts.push(text)
                if (guess := drafts.tentative()) is not None:
                    speech.prepare(guess)

        def sentence_end() -> None:
            """The gate released whole sentences: what is pending is one, no need to wait."""
            if (rest := sentences.flush()) is not None:
                release(rest)

        # guard_output
        gate = await ReplyGate.open(state, runtime, system=messages[0].text, facts=sayable)

        def show(shown: str) -> None:
            """Text the guard let through (already emitted as a token event)."""
            parts.append(shown)
            mood.push(shown)
            for sentence in sentences.push(shown):
                release(sentence)

        pace = runtime.context.pace
        try:
            async for chunk in model.chat.astream(messages):
                if pace is not None:
                    await pace.wait()  # the consumer is behind: read the model no faster
                text = chunk.text
                if text:
                    passed = await gate.push(text)  # held back only until its sentence passes
                    for shown in passed:
                        show(shown)
                    if passed and gate.whole_sentences:
                        sentence_end()
                    draft(text)
                meta = chunk.usage_metadata
                if meta:
                    usage = {
                        "input_tokens": (usage["input_tokens"] if usage else 0)
                        + meta["input_tokens"],
                        "output_tokens": (usage["output_tokens"] if usage else 0)
                        + meta["output_tokens"],
                    }
            for shown in await gate.flush():
                show(shown)
            if (rest := sentences.flush()) is not None:
                release(rest)
            if speech is not None:
                await speech.finish()
        except Exception as exc:
            domain = model.explain(exc)
            if domain is None:
                raise
            raise domain from exc
        finally:
            if speech is not None:
                speech.cancel()  # interrupted or failed: stop speaking; no-op once finished
        return {
            "reply": "".join(parts),
            "model": model.spec,
            "usage": usage,
            "companion_emotion": mood.finish(),
        }

    return generate
