"""The chat's ``/stage`` and ``/adult`` commands: the relationship with the current persona."""

from __future__ import annotations

from miolumi.core.relationship import AgeStatus
from miolumi.errors import MiolumiError
from miolumi.session import ChatSession

_AGE = {
    AgeStatus.UNKNOWN: "not confirmed as 18+ (romantic stages closed; /adult to confirm)",
    AgeStatus.ADULT: "confirmed 18+",
    AgeStatus.MINOR: "under 18 (said so): only non-romantic stages",
}


def _bar(value: float) -> str:
    filled = round(value * 20)
    return "█" * filled + "·" * (20 - filled)


def stage_text(session: ChatSession) -> str:
    """Where the user and the session's persona stand, as a few lines of text."""
    if session.product != "mio" or session.agent_id is None:
        raise MiolumiError("/stage is about a Mio persona: start the chat with --persona NAME.")
    persona = session.services.personas.get(session.agent_id)
    store = session.services.relationships
    ladder = persona.relationship.ladder()
    state = store.load(session.user_id, persona.id, ladder=ladder)
    stage = persona.relationship.stage(state.stage)
    position = ladder.index(stage.id) + 1
    lines = [
        f"{persona.display_name} and you: {stage.label} "
        f"(stage {position} of {len(ladder.stages)}: "
        + " -> ".join(s.label for s in persona.relationship.stages)
        + ")",
    ]
    for axis, value in state.axes.as_dict().items():
        lines.append(f"  {axis:<12} {_bar(value)} {value:.2f}")
    lines.append(f"  {state.turns} turns over {state.visits} visits")
    lines.append(f"  age: {_AGE[store.age(session.user_id)]}")
    history = store.history(session.user_id, persona.id, limit=5)
    if history:
        lines.append("  recent changes:")
        for change in history:
            src = persona.relationship.stage(change.from_stage).label
            dst = persona.relationship.stage(change.to_stage).label
            when = change.at.strftime("%Y-%m-%d %H:%M")
            lines.append(f"    {when}  {src} -> {dst} ({change.reason})")
    return "\n".join(lines)


def stage_command(session: ChatSession, name: str) -> str:
    """Run ``/stage`` or ``/adult`` and return what to print."""
    if name == "/adult":
        session.services.relationships.confirm_adult(
            session.user_id, source="confirmed with /adult in the chat"
        )
        return (
            "Noted: you confirmed you are 18 or older. Romantic stages can now open "
            "as the relationship grows."
        )
    return stage_text(session)
