"""Time to first audio: speaking sentence by sentence while the reply streams, vs at the end.

A scripted model streams a reply at a fixed rate (default 30 tokens/s, 150 tokens) through
the real turn graph with voice on (output guardrails on, as by default). Times are taken
on the model's side, as it yields each token:

- *first sentence written*: the token carrying the first sentence's full stop;
- *first sentence ends*: the next token, the first moment anyone can know the sentence
  ended ("3." may be "3.14", "Mr." goes on); a sentence splitter fed the raw model
  stream returns the sentence on this token;

then *first sentence shown* (the token events contain it: it passed the output checks),
the first ``audio`` event, and the end of generation. *Synthesis of that sentence* is the
warm engine's time to its first chunk of the same text in the turn's voice, in the same
process, measured right after each turn (so under the same load). The baseline, in the
same run, waits for the whole reply and then synthesises it (time to its first audio
chunk). A first turn of each kind warms up the models and is not counted. Medians over
``--runs``; the gap is the median of the per-run differences.

Targets: first audio <= first sentence ends + one synthesis of that sentence, and
<= 25% of the baseline's time to first audio.

    python benchmarks/voice_latency.py [--engine piper|espeak] [--rate 30] [--tokens 150]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from langchain_core.outputs import ChatGenerationChunk
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import PrivateAttr

from miolumi.config import load_settings
from miolumi.core.models.registry import ModelProvider
from miolumi.core.voice import SentenceSplitter, VoicePlan
from miolumi.graphs.context import TurnContext
from miolumi.graphs.lumi import builder
from miolumi.graphs.nodes.speech import voice_plan
from miolumi.hookspecs import hookimpl
from miolumi.plugins import load_plugins
from miolumi.services import Services
from miolumi.testing import ScriptedChatModel

SENTENCES = [
    "I remember you said the week felt long and heavy.",
    "That makes sense after everything you carried at work.",
    "Maybe tonight could be slow, with tea and a quiet walk outside.",
    "You do not have to fix everything before the weekend starts.",
    "I am proud of how you kept going, even on the hard days.",
    "Tell me one small thing that went right today, anything at all.",
    "Sometimes the tiny good moments are the ones worth keeping.",
    "I will be right here when you want to talk about the rest.",
    "And if you just want company, that is fine too, truly.",
    "Rest well, and let tomorrow be a little lighter for you.",
    "Sleep can wait a few minutes while we share a quiet thought.",
    "Goodnight for now, my friend, and thank you for telling me.",
]


def reply_of(tokens: int) -> str:
    words: list[str] = []
    for sentence in SENTENCES * 4:
        words.extend(sentence.split())
        if len(words) >= tokens:
            break
    text = " ".join(words[:tokens])
    return text if text.endswith(".") else text + "."


class TimedModel(ScriptedChatModel):
    """The scripted model, noting when it yields each chunk of its first call after ``clear``."""

    _streams: list[list[tuple[float, str]]] = PrivateAttr(default_factory=list)

    def clear(self) -> None:
        self._streams.clear()

    @property
    def stamps(self) -> list[tuple[float, str]]:
        return self._streams[0] if self._streams else []

    async def _astream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        stamps: list[tuple[float, str]] = []
        self._streams.append(stamps)
        chunk: ChatGenerationChunk
        async for chunk in super()._astream(*args, **kwargs):
            stamps.append((time.perf_counter(), chunk.text))
            yield chunk


def sentence_times(stamps: list[tuple[float, str]]) -> tuple[str, float, float]:
    """The first sentence of the raw stream, when its full stop came, when it was known."""
    splitter, seen = SentenceSplitter(), ""
    for at, text in stamps:
        seen += text
        if sentences := splitter.push(text):
            first = sentences[0]
            head = "".join(t for _, t in stamps)
            stop = head.find(first) + len(first)
            written, length = at, 0
            for when, piece in stamps:
                length += len(piece)
                if length >= stop:
                    written = when
                    break
            return first, written, at
    raise RuntimeError(f"no complete sentence in {seen!r}")


class Scripted:
    def __init__(self, model: ScriptedChatModel) -> None:
        self.model = model

    @hookimpl
    def register_model_providers(self, register):  # type: ignore[no-untyped-def]
        register(
            ModelProvider(
                name="scripted",
                description="fixed-rate replies",
                create=lambda request: self.model,
                is_configured=lambda settings: True,
                local=True,
            )
        )


async def one_run(
    services: Services, model: TimedModel, reply: str, *, voice: bool
) -> dict[str, float]:
    graph = builder.compile(checkpointer=InMemorySaver())
    context = TurnContext(services=services, model="scripted:x", voice=voice)
    config = {"configurable": {"thread_id": f"t{time.perf_counter_ns()}"}}
    marks: dict[str, float] = {}
    shown: list[tuple[float, str]] = []
    model.clear()
    start = time.perf_counter()
    async for event in graph.astream(
        {"user_input": "I'm tired."}, config, context=context, stream_mode="custom"
    ):
        now = time.perf_counter() - start
        if event["type"] == "token":
            marks["generation_end"] = now
            shown.append((now, event["text"]))
        elif event["type"] == "audio" and "first_audio" not in marks:
            marks["first_audio"] = now
    first, written, ends = sentence_times(model.stamps)
    marks["first_written"], marks["first_ends"] = written - start, ends - start
    text = ""
    for now, piece in shown:
        text += piece
        if first in text:
            marks["first_shown"] = now
            break
    if not voice:  # the baseline: the whole reply, synthesised once it is complete
        async for item in services.voice.speak(reply, language="en"):
            marks["first_audio"] = time.perf_counter() - start
            del item
            break
    return marks


async def synthesis_time(services: Services, text: str, plan: VoicePlan) -> float:
    """The warm engine's time to the first chunk of ``text``, in the turn's voice."""
    chain = services.voice.chain()
    engine = chain.engines_for(text, "en")[0]
    spec = plan.spec_for(engine.info, "en")
    start = time.perf_counter()
    async for _ in engine.synthesize(text, language="en", voice=spec):
        break
    return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="piper", help="TTS engine (piper, espeak, ...)")
    parser.add_argument("--rate", type=float, default=30.0, help="tokens per second")
    parser.add_argument("--tokens", type=int, default=150, help="tokens in the reply")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reply = reply_of(args.tokens)
    home = Path(tempfile.mkdtemp(prefix="miolumi-bench-"))
    settings = load_settings(home=home, tts_engines=args.engine)
    plugins = load_plugins(settings, entrypoints=False)
    model = TimedModel(replies=[reply], delay=1.0 / args.rate)
    plugins.manager.register(Scripted(model), name="scripted")
    services = Services.create(settings=settings, plugins=plugins)
    await services.voice.warm_up(["en"])
    first = SENTENCES[0]
    context = TurnContext(services=services, model="scripted:x", voice=True)
    streamed, baseline = [], []
    for run in range(args.runs + 1):  # the first turn loads models (guardrails...): not counted
        plan, _ = voice_plan(context)  # the voice this turn speaks with
        marks = await one_run(services, model, reply, voice=True)
        times = [await synthesis_time(services, first, plan) for _ in range(3)]
        marks["synthesis"] = statistics.median(times)  # just after the turn, same load
        base = await one_run(services, model, reply, voice=False)
        if run:
            streamed.append(marks)
            baseline.append(base)

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    for marks in streamed:
        marks["gap"] = marks["first_audio"] - marks["first_ends"]
    synth = med(streamed, "synthesis")
    first_ends, first_audio = med(streamed, "first_ends"), med(streamed, "first_audio")
    generation_end, base_audio = med(streamed, "generation_end"), med(baseline, "first_audio")
    gap = med(streamed, "gap")
    print(f"engine {args.engine}, {args.tokens} tokens at {args.rate:g} tokens/s, "
          f"median of {args.runs} runs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print(f"  first sentence written       {med(streamed, 'first_written'):7.3f} s")
    print(f"  first sentence ends          {first_ends:7.3f} s")
    print(f"  first sentence shown         {med(streamed, 'first_shown'):7.3f} s")
    print(f"  synthesis of that sentence   {synth:7.3f} s")
    print(f"  first audio (streaming)      {first_audio:7.3f} s")
    print(f"  end of generation            {generation_end:7.3f} s")
    print(f"  first audio (baseline)       {base_audio:7.3f} s")
    ratio = first_audio / base_audio
    print(f"  first audio - sentence end = {gap * 1000:.1f} ms (target <= synthesis, "
          f"{synth * 1000:.1f} ms): {'yes' if gap <= synth else 'NO'}")  # fmt: skip
    met = sum(m["gap"] <= m["synthesis"] for m in streamed)
    print(f"  runs within that run's sentence end + synthesis: {met}/{len(streamed)}")
    print(f"  first audio / baseline = {ratio:.1%} (target <= 25%): "
          f"{'yes' if ratio <= 0.25 else 'NO'}")  # fmt: skip
    await services.voice.aclose()


if __name__ == "__main__":
    asyncio.run(main())
