"""``budget``: before anything is spent on a reply, ask the budget, and act on its answer.

- ``ok``: generate as usual.
- ``warn``: a cap is close (or crossed, when the policy only warns): a ``budget`` event
  and a log line for the operator; the reply goes on.
- ``degrade``: the turn uses the configured cheaper model (``model_override``); later
  steps read ``budget_action`` to save on extras.
- ``stop``: no paid call; the companion says, in its own voice, that it must rest, as a
  ``budget`` event and as the reply, and the turn ends normally.

The check reserves the most the reply may cost, atomically with the check, and hands the
reservation (with whom the turn serves) to the model call of the same thread, so turns
running at once cannot together cross a cap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from langgraph.runtime import Runtime

from miolumi import events
from miolumi.core.cost import Admission, ModelRef
from miolumi.core.models import ResolvedModel
from miolumi.events import BudgetEvent
from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.attribution import turn_attribution
from miolumi.graphs.nodes.generate import Node, SystemPrompt, prompt_messages
from miolumi.graphs.pace import stream_writer
from miolumi.graphs.state import TurnState

log = logging.getLogger("miolumi.core.cost.budget")

BudgetMessage = Callable[[TurnState, TurnContext], str]
"""What the companion says when the budget stops a turn, in its own voice."""

LUMI_REST = (
    "My light is running a little low right now, so I need to rest for a while. "
    "Come back a bit later? I'll be right here, glowing for you."
)
PERSONA_REST = (
    "I'm so sorry, I'm all talked out for now and need a little rest. "
    "Can we pick this up later? I'll be looking forward to it. ({name})"
)


def default_budget_message(state: TurnState, context: TurnContext) -> str:
    """Lumi's words, or the persona's (signed with its name) when one is speaking."""
    if context.agent_id is None:
        return LUMI_REST
    persona = context.resources().personas.get(context.agent_id)
    return PERSONA_REST.format(name=persona.display_name)


def _ref(model: ResolvedModel) -> ModelRef:
    return ModelRef(provider=model.provider.name, name=model.name, local=model.provider.local)


def _event(admission: Admission, action: Literal["warn", "degrade", "stop"]) -> BudgetEvent:
    decision = admission.decision
    assert decision.cap is not None
    return {
        "type": "budget",
        "action": action,
        "cap": decision.cap.label,
        "spent": f"{decision.spent:.6f}",
        "limit": f"{decision.cap.limit:.6f}",
    }


def make_budget(system_prompt: SystemPrompt, message: BudgetMessage) -> Node:
    """Build the ``budget`` node of a product from its system prompt and its words to rest."""

    async def budget(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Check the budget for this turn's reply; see the module docs."""
        context = runtime.context
        services = context.resources()
        tracker = services.cost
        model = services.models.resolve(context.model)
        cheaper: ResolvedModel | None = None
        prompt: list[str] = []
        if tracker.policy.enabled:  # nothing to weigh without a cap
            if tracker.policy.degrade_model:
                cheaper = services.models.resolve(tracker.policy.degrade_model)
            messages = prompt_messages(state, system_prompt(state, context))
            prompt = [m.text for m in messages]
        admission = await tracker.admit(
            attribution=turn_attribution(state, context),
            model=_ref(model),
            prompt=prompt,
            degrade_to=_ref(cheaper) if cheaper else None,
        )
        action = admission.action
        if action == "ok":
            return {"budget_action": "ok", "model_override": None}
        if action == "stop":
            words = message(state, context)
            stream_writer(runtime)({**_event(admission, "stop"), "message": words})
            stream_writer(runtime)(events.token(words))
            log.warning("Budget: a turn of user %r was stopped.", context.user_id)
            return {"budget_action": "stop", "reply": words, "model_override": None}
        event = _event(admission, "warn" if action == "warn" else "degrade")
        override = None
        if action == "degrade" and admission.model is not None:
            override = admission.model.spec
            event["model"] = override
        stream_writer(runtime)(event)
        log.warning(
            "Budget %s for user %r: %s cap at $%s of $%s.",
            action,
            context.user_id,
            event["cap"],
            event["spent"],
            event["limit"],
        )
        return {"budget_action": action, "model_override": override}

    return budget


def after_budget(state: TurnState) -> Literal["generate", "finish"]:
    """Route a stopped turn straight to ``finish``; every other turn to ``generate``."""
    if state.budget_action == "stop":
        return "finish"
    if state.budget_action in ("ok", "warn", "degrade"):
        return "generate"
    raise ValueError(f"Unexpected budget action {state.budget_action!r}")
