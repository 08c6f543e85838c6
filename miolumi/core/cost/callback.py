"""The LangChain callback that checks and records every chat-model call.

The model catalog attaches :class:`LedgerCallbackHandler` to each chat model it builds,
with metadata naming the model (``miolumi_provider``, ``miolumi_model``, ``miolumi_local``).
Whom a call served comes from the run's metadata (see :func:`run_metadata`, which
``ChatSession`` passes), else from the turn's budget check for the same thread, else it
is the default user ``local``; LangGraph adds ``thread_id`` to the metadata itself.

The handler is synchronous and runs inline: each event costs microseconds (a dict
lookup, an append to a queue). The one exception is a paid call under an enforced budget
that no budget check reserved for: it reserves in the database before going out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from miolumi.core.cost.ledger import Attribution, Call, Texts
from miolumi.core.cost.prices import ModelRef, Units

if TYPE_CHECKING:
    from miolumi.core.cost.tracker import CostTracker

USER = "miolumi_user_id"
PRODUCT = "miolumi_product"
AGENT = "miolumi_agent_id"
TURN = "miolumi_turn"
PROVIDER = "miolumi_provider"
MODEL = "miolumi_model"
LOCAL = "miolumi_local"


def run_metadata(
    *,
    user_id: str,
    product: str | None = None,
    agent_id: str | None = None,
    turn: int | None = None,
) -> dict[str, Any]:
    """Run-config metadata that attributes the run's model calls in the ledger.

    Pass it as ``config={"metadata": run_metadata(...), "configurable": {...}}``.
    """
    meta: dict[str, Any] = {USER: user_id}
    if product is not None:
        meta[PRODUCT] = product
    if agent_id is not None:
        meta[AGENT] = agent_id
    if turn is not None:
        meta[TURN] = turn
    return meta


def model_metadata(*, provider: str, model: str, local: bool) -> dict[str, Any]:
    """Metadata the model catalog puts on a chat model, naming it for the ledger."""
    return {PROVIDER: provider, MODEL: model, LOCAL: local}


@dataclass(slots=True, kw_only=True)
class _Run:
    started_at: datetime
    start: float
    attribution: Attribution
    provider: str
    model: str
    local: bool
    prompt: Sequence[BaseMessage]
    reservation_id: str | None
    pieces: list[str] = field(default_factory=list)


class LedgerCallbackHandler(BaseCallbackHandler):
    """Checks the budget before each chat-model call and queues a ledger row after it."""

    raise_error = True  # a refused call must not go out
    run_inline = True

    def __init__(self, *, tracker: CostTracker) -> None:
        self._tracker = tracker
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Attribute the call and, under an enforced budget, make sure it is reserved."""
        meta = metadata or {}
        if MODEL not in meta:
            return  # not a model of the catalog: someone else's business
        provider, model, local = str(meta[PROVIDER]), str(meta[MODEL]), bool(meta[LOCAL])
        prompt = messages[0] if messages else []
        attribution, reservation = self._attribute(meta, f"{provider}:{model}")
        if reservation is None and not local and self._tracker.policy.enforces:
            params = kwargs.get("invocation_params") or {}
            bound = self._tracker.estimate_llm(
                ModelRef(provider=provider, name=model, local=local),
                prompt=[m.text for m in prompt],
                max_tokens=params.get("max_tokens") or params.get("max_completion_tokens"),
            )
            reservation = self._tracker.reserve_call(
                attribution=attribution, model=f"{provider}:{model}", estimate=bound
            )
        run = _Run(
            started_at=datetime.now(UTC),
            start=time.perf_counter(),
            attribution=attribution,
            provider=provider,
            model=model,
            local=local,
            prompt=prompt,
            reservation_id=reservation,
        )
        with self._lock:
            self._runs[run_id] = run

    def on_llm_new_token(
        self, token: str | list[str | dict[str, Any]], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """Keep the streamed text, to count it if the call fails or reports no usage."""
        run = self._runs.get(run_id)
        if run is not None and isinstance(token, str):
            run.pieces.append(token)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Queue the call's row with the usage the provider reported (or counts to make)."""
        with self._lock:
            run = self._runs.pop(run_id, None)
        if run is None:
            return
        units = _reported(response)
        texts = None if units is not None else _texts(run, _output(response, run))
        self._record(run, units=units, texts=texts, status="ok")

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Queue a failed call, priced on what it streamed before failing."""
        with self._lock:
            run = self._runs.pop(run_id, None)
        if run is None:
            return
        if not run.pieces:  # nothing came back: nothing was generated to pay for
            if run.reservation_id:
                self._tracker.release(run.reservation_id)
            return
        self._record(run, units=None, texts=_texts(run, "".join(run.pieces)), status="error")

    # -- helpers

    def _attribute(self, meta: Mapping[str, Any], model: str) -> tuple[Attribution, str | None]:
        thread = meta.get("thread_id")
        pending = self._tracker.take_pending(str(thread), model) if thread else None
        base, reservation = pending if pending else (Attribution(), None)
        turn = meta.get(TURN, base.turn)
        attribution = Attribution(
            user_id=str(meta.get(USER, base.user_id)),
            product=meta.get(PRODUCT, base.product),
            agent_id=meta.get(AGENT, base.agent_id),
            thread_id=str(thread) if thread else base.thread_id,
            turn=int(turn) if turn is not None else None,
        )
        return attribution, reservation

    def _record(self, run: _Run, *, units: Units | None, texts: Texts | None, status: str) -> None:
        self._tracker.ledger.record(
            Call(
                started_at=run.started_at,
                attribution=run.attribution,
                kind="llm",
                provider=run.provider,
                model=run.model,
                units=units,
                texts=texts,
                local=run.local,
                latency_ms=(time.perf_counter() - run.start) * 1000,
                status="ok" if status == "ok" else "error",
                reservation_id=run.reservation_id,
            )
        )


def _reported(response: LLMResult) -> Units | None:
    """Token usage as the provider reported it, or None."""
    input_tokens = output_tokens = 0
    found = False
    for generations in response.generations:
        for generation in generations:
            if isinstance(generation, ChatGeneration) and generation.message:
                usage = getattr(generation.message, "usage_metadata", None)
                if usage:
                    input_tokens += usage["input_tokens"]
                    output_tokens += usage["output_tokens"]
                    found = True
    if not found and response.llm_output:
        usage = response.llm_output.get("token_usage") or {}
        if usage:
            input_tokens = int(usage.get("prompt_tokens") or 0)
            output_tokens = int(usage.get("completion_tokens") or 0)
            found = True
    return Units(input_tokens=input_tokens, output_tokens=output_tokens) if found else None


def _output(response: LLMResult, run: _Run) -> str:
    text = "".join(g.text for gens in response.generations for g in gens)
    return text or "".join(run.pieces)


def _texts(run: _Run, output: str) -> Texts:
    return Texts(prompt=[m.text for m in run.prompt], output=output)
