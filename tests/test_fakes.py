"""Tests for the fakes in `miolumi.testing`."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Literal

import httpx
import numpy as np
import openai
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletionMessageParam
from pydantic import SecretStr

from miolumi.testing import (
    EMBEDDING_DIMENSIONS,
    TOKENS_PER_MESSAGE,
    FailingChatModel,
    FakeOpenAIServer,
    ScriptedChatModel,
    free_port,
    split_words,
)

KEY = "sk-test"
REPLY = "Hello there, friend. How are you today?"
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Be kind."},
    {"role": "user", "content": "hi there"},
]
# Words in MESSAGES plus TOKENS_PER_MESSAGE per message.
PROMPT_TOKENS = 4 + 2 * TOKENS_PER_MESSAGE


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(replies=[REPLY], api_key=KEY) as fake:
        yield fake


def client_for(server: FakeOpenAIServer, api_key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=api_key, max_retries=0)


def chat_for(server: FakeOpenAIServer, *, stream_usage: bool | None = None) -> ChatOpenAI:
    return ChatOpenAI(
        model="fake-model",
        base_url=server.base_url,
        api_key=SecretStr(KEY),
        max_retries=0,
        stream_usage=stream_usage,
    )


# ------------------------------------------------------------------ split_words


@pytest.mark.parametrize(
    "text", ["", " ", "one", "two words", "  padded  text  ", "tabs\tand\nnewlines\n", "你好。"]
)
def test_split_words_keeps_every_character(text: str) -> None:
    assert "".join(split_words(text)) == text


def test_split_words_gives_one_piece_per_word() -> None:
    assert split_words("Hello there, friend.") == ["Hello ", "there, ", "friend."]


# ------------------------------------------------------------ server, openai client


def test_base_url_and_port(server: FakeOpenAIServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"


def test_non_streaming_completion(server: FakeOpenAIServer) -> None:
    completion = client_for(server).chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == PROMPT_TOKENS
    assert completion.usage.completion_tokens == len(split_words(REPLY))
    assert completion.usage.total_tokens == PROMPT_TOKENS + len(split_words(REPLY))


def test_streaming_completion_with_usage(server: FakeOpenAIServer) -> None:
    stream = client_for(server).chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == PROMPT_TOKENS
    assert last.usage.completion_tokens == len(split_words(REPLY))


def test_streaming_without_include_usage_has_no_usage(server: FakeOpenAIServer) -> None:
    stream = client_for(server).chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
        stream=True,
    )
    assert all(c.usage is None and c.choices for c in stream)


def test_raw_sse_ends_with_done(server: FakeOpenAIServer) -> None:
    response = httpx.post(
        f"{server.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "fake-model", "messages": MESSAGES, "stream": True},
    )
    assert response.headers["content-type"] == "text/event-stream"
    events = [e for e in response.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def test_replies_cycle() -> None:
    with FakeOpenAIServer(replies=["one", "two"]) as server:
        client = client_for(server)
        answers = [
            client.chat.completions.create(
                model="fake-model",
                messages=MESSAGES,
            )
            .choices[0]
            .message.content
            for _ in range(3)
        ]
    assert answers == ["one", "two", "one"]


def test_echo_mode_by_default() -> None:
    with FakeOpenAIServer() as server:
        completion = client_for(server).chat.completions.create(
            model="fake-model",
            messages=MESSAGES,
        )
    assert completion.choices[0].message.content == "You said: hi there"


def test_echo_reads_content_parts() -> None:
    with FakeOpenAIServer() as server:
        completion = client_for(server).chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": [{"type": "text", "text": "a picture"}]}],
        )
    assert completion.choices[0].message.content == "You said: a picture"


def test_chunk_words_off_streams_one_piece() -> None:
    with FakeOpenAIServer(replies=[REPLY], chunk_words=False) as server:
        stream = client_for(server).chat.completions.create(
            model="fake-model",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    contents = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert contents == [REPLY]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 1


def test_usage_off_reports_no_usage() -> None:
    with FakeOpenAIServer(replies=[REPLY], usage=False) as server:
        client = client_for(server)
        completion = client.chat.completions.create(
            model="fake-model",
            messages=MESSAGES,
        )
        stream = client.chat.completions.create(
            model="fake-model",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    assert completion.usage is None
    assert all(c.usage is None for c in chunks)


def test_models_list() -> None:
    with FakeOpenAIServer(models=["a", "b"]) as server:
        models = client_for(server).models.list()
    assert [m.id for m in models] == ["a", "b"]


def test_bad_key_is_authentication_error(server: FakeOpenAIServer) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        client_for(server, api_key="sk-wrong").chat.completions.create(
            model="fake-model",
            messages=MESSAGES,
        )
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert info.value.type == "invalid_request_error"


def test_unknown_model_is_not_found(server: FakeOpenAIServer) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client_for(server).chat.completions.create(
            model="gpt-nope",
            messages=MESSAGES,
        )
    assert info.value.code == "model_not_found"
    assert "gpt-nope" in info.value.message


@pytest.mark.parametrize("encoding", ["float", None])
def test_embeddings_are_unit_vectors_closer_for_shared_words(
    server: FakeOpenAIServer, encoding: Literal["float"] | None
) -> None:
    texts = ["I love my cat", "my cat loves me", "tax forms are due"]
    client = client_for(server)
    if encoding is None:  # the client asks for base64 and decodes it
        response = client.embeddings.create(model="text-embedding-3-small", input=texts)
        assert server.requests[-1].json["encoding_format"] == "base64"
    else:
        response = client.embeddings.create(
            model="text-embedding-3-small", input=texts, encoding_format=encoding
        )
    vectors = np.array([item.embedding for item in response.data])
    assert vectors.shape == (3, EMBEDDING_DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert response.usage.prompt_tokens == 12


def test_embeddings_of_an_unknown_model_are_not_found(server: FakeOpenAIServer) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client_for(server).embeddings.create(model="embed-nope", input=["hi"])
    assert info.value.code == "model_not_found"


def test_requests_are_recorded(server: FakeOpenAIServer) -> None:
    client = client_for(server)
    client.chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
        temperature=0.5,
    )
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="other",
            messages=MESSAGES,
        )
    first, second = server.requests
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.json == {"model": "fake-model", "messages": MESSAGES, "temperature": 0.5}
    assert second.json["model"] == "other"


def test_requests_from_many_threads_are_all_recorded() -> None:
    with FakeOpenAIServer() as server:
        client = client_for(server)

        def ask(i: int) -> None:
            client.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": str(i)}]
            )

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        contents = sorted(r.json["messages"][0]["content"] for r in server.requests)
    assert contents == sorted(str(i) for i in range(8))


def test_client_disconnect_mid_stream_keeps_server_alive(
    capfd: pytest.CaptureFixture[str],
) -> None:
    long_reply = " ".join(f"word{i}" for i in range(200))
    with FakeOpenAIServer(replies=[long_reply, "still here"], token_delay=0.01) as server:
        client = client_for(server)
        with client.chat.completions.create(
            model="fake-model",
            messages=MESSAGES,
            stream=True,
        ) as stream:
            for i, _ in enumerate(stream):
                if i == 3:
                    break
        assert server.wait_idle(timeout=5)
        assert server.disconnects == 1
        later = client.chat.completions.create(
            model="fake-model",
            messages=MESSAGES,
        )
        assert later.choices[0].message.content == "still here"
    assert "Traceback" not in capfd.readouterr().err


def test_close_mid_stream_is_fast_and_leaves_no_threads() -> None:
    before = set(threading.enumerate())
    server = FakeOpenAIServer(replies=["word " * 1000], token_delay=0.05)
    client = client_for(server)
    stream = client.chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
        stream=True,
    )
    next(iter(stream))
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 1.0
    with pytest.raises(openai.APIError):
        list(stream)  # the stream was cut short
    assert set(threading.enumerate()) - before == set()
    server.close()  # idempotent
    with pytest.raises(openai.APIConnectionError):
        client.models.list()


def test_free_port_is_unreachable() -> None:
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="x", max_retries=0
    )
    with pytest.raises(openai.APIConnectionError):
        client.models.list()


# -------------------------------------------------------------- server, ChatOpenAI


def test_chat_openai_invoke(server: FakeOpenAIServer) -> None:
    message = chat_for(server).invoke([SystemMessage("Be kind."), HumanMessage("hi there")])
    assert message.content == REPLY
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == PROMPT_TOKENS
    assert message.usage_metadata["output_tokens"] == len(split_words(REPLY))


def test_chat_openai_stream_with_usage(server: FakeOpenAIServer) -> None:
    chunks = list(
        chat_for(server, stream_usage=True).stream(
            [SystemMessage("Be kind."), HumanMessage("hi there")]
        )
    )
    assert len([c for c in chunks if c.content]) == len(split_words(REPLY))
    full = sum(chunks[1:], chunks[0])
    assert isinstance(full, AIMessageChunk)
    assert full.content == REPLY
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == PROMPT_TOKENS
    assert full.usage_metadata["output_tokens"] == len(split_words(REPLY))
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}


async def test_chat_openai_astream(server: FakeOpenAIServer) -> None:
    pieces = [c.content async for c in chat_for(server).astream("hi there")]
    assert "".join(str(p) for p in pieces) == REPLY


def test_chat_openai_bad_key(server: FakeOpenAIServer) -> None:
    chat = ChatOpenAI(
        model="fake-model", base_url=server.base_url, api_key=SecretStr("no"), max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        chat.invoke("hi")


# ------------------------------------------------------------------ ScriptedChatModel


def test_scripted_invoke_cycles_and_records_calls() -> None:
    model = ScriptedChatModel(replies=["first reply", "second"])
    assert model.invoke("one two three").content == "first reply"
    assert model.invoke([HumanMessage("again")]).content == "second"
    assert model.invoke("x").content == "first reply"
    assert [[m.text for m in call] for call in model.calls] == [["one two three"], ["again"], ["x"]]


def test_scripted_invoke_usage() -> None:
    model = ScriptedChatModel(replies=["a b c d e"], chunk_size=2)
    message = model.invoke([SystemMessage("be brief"), HumanMessage("one two three")])
    assert message.usage_metadata == {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}
    assert model._llm_type == "scripted"


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 100])
def test_scripted_stream_concatenates_to_reply(chunk_size: int) -> None:
    reply = "  Hello,  world!\nHow are\tyou? 你好 "
    model = ScriptedChatModel(replies=[reply], chunk_size=chunk_size)
    chunks = list(model.stream("say hi"))
    texts = [c.content for c in chunks]
    assert "".join(str(t) for t in texts) == reply
    pieces = len(split_words(reply))
    assert len(texts) == -(-pieces // chunk_size)
    assert all(c.usage_metadata is None for c in chunks[:-1])
    assert chunks[-1].usage_metadata == {
        "input_tokens": 2,
        "output_tokens": len(texts),
        "total_tokens": 2 + len(texts),
    }


def test_scripted_empty_reply_streams_one_empty_chunk() -> None:
    chunks = list(ScriptedChatModel(replies=[""]).stream("hi"))
    assert [c.content for c in chunks] == [""]
    assert chunks[0].usage_metadata is not None


async def test_scripted_astream_and_ainvoke() -> None:
    model = ScriptedChatModel(replies=["one two three", "four"])
    chunks = [c async for c in model.astream("hi")]
    full = sum(chunks[1:], chunks[0])
    assert full.content == "one two three"
    assert full.usage_metadata == {"input_tokens": 1, "output_tokens": 3, "total_tokens": 4}
    assert (await model.ainvoke("hi")).content == "four"
    assert len(model.calls) == 2


async def test_scripted_astream_yields_to_the_event_loop() -> None:
    model = ScriptedChatModel(replies=["a b c"], delay=0.01)
    order: list[str] = []

    async def consume(name: str) -> None:
        async for _ in model.astream("hi"):
            order.append(name)

    await asyncio.gather(consume("x"), consume("y"))
    assert "y" in order[:3], "astream blocked the event loop"
    assert sorted(order) == ["x"] * 3 + ["y"] * 3


def test_scripted_needs_a_reply() -> None:
    with pytest.raises(ValueError):
        ScriptedChatModel(replies=[])


# ------------------------------------------------------------------- FailingChatModel


def test_failing_stream_raises_after_fail_after_chunks() -> None:
    model = FailingChatModel(replies=["one two three four"], fail_after=2)
    received: list[str] = []
    with pytest.raises(RuntimeError, match="after 2 chunk"):
        for chunk in model.stream("hi"):
            received.append(str(chunk.content))
    assert received == ["one ", "two "]
    assert len(model.calls) == 1


async def test_failing_astream_and_ainvoke() -> None:
    model = FailingChatModel(replies=["one two"], fail_after=1)
    with pytest.raises(RuntimeError):
        _ = [c async for c in model.astream("hi")]
    with pytest.raises(RuntimeError):
        await model.ainvoke("hi")


def test_failing_recovers_when_fail_after_is_none() -> None:
    model = FailingChatModel(replies=["a b c"], fail_after=5)
    with pytest.raises(RuntimeError):
        list(model.stream("hi"))  # fewer chunks than fail_after: fails at the end
    model.fail_after = None
    assert "".join(str(c.content) for c in model.stream("hi")) == "a b c"
    assert model.invoke("hi").content == "a b c"


async def test_scripted_model_waits_first_delay_then_delay_per_chunk() -> None:
    model = ScriptedChatModel(replies=["one two three"], first_delay=0.2, delay=0.05)
    start = time.perf_counter()
    arrivals = []
    async for _ in model.astream("hi"):
        arrivals.append(time.perf_counter() - start)
    assert len(arrivals) == 3
    assert 0.2 <= arrivals[0] < 0.25 + 0.5  # generous: a loaded machine is slow, never fast
    assert arrivals[2] - arrivals[0] >= 0.1
    assert model.streamed == 3
