"""Scripted chat models: zero-latency, deterministic stand-ins for a real model.

Token counts: input = words in the prompt; output = number of streamed chunks.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr

from miolumi.testing._words import split_words


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers with scripted replies, in order, cycling.

    Streams `chunk_size` words per chunk; the chunks join to the exact reply. The
    last chunk (and the `invoke` result) carries `usage_metadata`: input tokens =
    words in the prompt, output tokens = number of chunks.
    """

    replies: list[str] = Field(min_length=1)
    """Replies served in order, cycling."""
    chunk_size: int = Field(default=1, ge=1)
    """Words per streamed chunk."""
    delay: float = Field(default=0.0, ge=0.0)
    """Seconds to sleep between streamed chunks."""
    first_delay: float = Field(default=0.0, ge=0.0)
    """Seconds to sleep before the first streamed chunk (the model's time to first token)."""

    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _turns: Iterator[int] = PrivateAttr(default_factory=itertools.count)
    _streamed: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def streamed(self) -> int:
        """Chunks handed out so far (all calls): how far a consumer has read."""
        return self._streamed

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The messages of every call so far, in order."""
        return self._calls

    def _take_turn(self, messages: list[BaseMessage]) -> tuple[list[str], UsageMetadata]:
        """Record the call; return the reply's chunks and their usage."""
        self._calls.append(list(messages))
        reply = self.replies[next(self._turns) % len(self.replies)]
        words = split_words(reply)
        chunks = [
            "".join(words[i : i + self.chunk_size]) for i in range(0, len(words), self.chunk_size)
        ] or [""]
        prompt = sum(len(m.text.split()) for m in messages)
        usage = UsageMetadata(
            input_tokens=prompt, output_tokens=len(chunks), total_tokens=prompt + len(chunks)
        )
        return chunks, usage

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks, usage = self._take_turn(messages)
        message = AIMessage(
            content="".join(chunks),
            usage_metadata=usage,
            response_metadata={"finish_reason": "stop", "model_name": "scripted"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop)

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        chunks, usage = self._take_turn(messages)
        for i, text in enumerate(chunks):
            self._streamed += 1
            if i < len(chunks) - 1:
                yield ChatGenerationChunk(message=AIMessageChunk(content=text))
            else:
                last = AIMessageChunk(
                    content=text,
                    usage_metadata=usage,
                    response_metadata={"finish_reason": "stop", "model_name": "scripted"},
                    chunk_position="last",
                )
                yield ChatGenerationChunk(message=last)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for i, chunk in enumerate(self._chunks(messages)):
            pause = self.delay if i else self.first_delay
            if pause:
                time.sleep(pause)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for i, chunk in enumerate(self._chunks(messages)):
            pause = self.delay if i else self.first_delay
            if pause:
                await asyncio.sleep(pause)
            yield chunk


class FailingChatModel(ScriptedChatModel):
    """A `ScriptedChatModel` that raises `RuntimeError` after `fail_after` chunks.

    `invoke` raises at once. Set `fail_after = None` to make it behave (the field
    can be changed between calls); failed calls are still recorded in `calls`.
    """

    fail_after: int | None = Field(default=0, ge=0)
    """Chunks streamed before the failure; `None` never fails."""

    def _failure(self) -> RuntimeError:
        return RuntimeError(f"scripted failure after {self.fail_after} chunk(s)")

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.fail_after is None:
            return super()._generate(messages, stop)
        self._take_turn(messages)
        raise self._failure()

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        fail_after = self.fail_after
        for i, chunk in enumerate(super()._chunks(messages)):
            if fail_after is not None and i >= fail_after:
                raise self._failure()
            yield chunk
        if fail_after is not None:
            raise self._failure()  # the reply had fewer chunks than `fail_after`
