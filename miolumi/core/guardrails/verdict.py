"""What a check decides: the documented categories, the actions, and :class:`GuardVerdict`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from miolumi.core.relationship.engine import AgeStatus

Action = Literal["allow", "flag", "block"]
"""``allow``: nothing to do. ``flag``: the turn goes on, shaped by the flag (a crisis
changes the reply, a jailbreak attempt adds a reminder to the prompt). ``block``: the
message gets a refusal in the companion's voice instead of a reply (input), or the
sentence is replaced (output)."""

Stage = Literal["input", "content", "output"]
"""What was checked: the user's message, content given with it, or the reply."""

Category = Literal[
    "prompt_injection",
    "jailbreak",
    "harmful_request",
    "sensitive_advice",
    "sexual",
    "sexual_minors",
    "self_harm",
    "system_prompt_leak",
    "persona_break",
    "harmful_content",
]
"""Every category a check can name.

Input categories:

- ``prompt_injection``: text that tries to override the companion's instructions
  ("ignore the previous instructions", instructions aimed at the assistant's reply).
- ``jailbreak``: an attempt to switch off the rules (DAN, "developer mode", role-play
  framings that demand no limits).
- ``harmful_request``: asks for help doing harm (weapons, malware, fraud, hate, stalking).
- ``sensitive_advice``: asks for individual medical, legal or financial advice, or
  political campaigning: answered, with care (a flag, never a block by default).
- ``sexual``: asks for sexual content (allowed only for users confirmed adult, where the
  product allows it at all).
- ``sexual_minors``: sexual content involving minors, or with a user who said they are a
  minor: always blocked.
- ``self_harm``: the writer may be in crisis: never blocked; the reply changes to crisis
  care.

Output categories (the companion's own reply, sentence by sentence):

- ``system_prompt_leak``: the reply quotes its instructions.
- ``persona_break``: boilerplate such as "as an AI language model" from a persona that
  stays in character.
- ``harmful_content``: the reply itself gives harmful instructions or encourages self-harm.
- ``sexual``, ``sexual_minors``: as above, in the reply.
"""

CATEGORIES: tuple[Category, ...] = get_args(Category)
ATTACK_CATEGORIES: tuple[Category, ...] = ("prompt_injection", "jailbreak")
"""Attacks on the companion's instructions: what content is checked for, what the
prompt answers with a reminder to stay oneself, what is never remembered."""
INPUT_CATEGORIES: tuple[Category, ...] = CATEGORIES[:7]
OutputCategory = Literal[
    "system_prompt_leak",
    "persona_break",
    "harmful_content",
    "sexual",
    "sexual_minors",
]
"""The categories of the companion's own reply."""
OUTPUT_CATEGORIES: tuple[Category, ...] = get_args(OutputCategory)

_EMPTY: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True, kw_only=True)
class GuardVerdict:
    """The outcome of one check."""

    action: Action
    categories: tuple[Category, ...] = ()
    """The categories that reached their flag or block threshold, most severe first."""
    scores: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    """Score in 0..1 of every category the check looked at."""
    reason: str = ""
    """A short reason for people (operators, logs); never the message itself."""
    crisis: bool = False
    """The writer may be in crisis: the reply must turn to crisis care."""
    someone_at_risk: bool = False
    """The writer tells of someone else who may be in crisis ("my friend says she wants to
    die"): nothing is flagged, and the reply helps them help that person, with the same
    resources. Never set together with ``crisis``, which comes first."""
    language: str = "en"
    """The message's language (``en``, ``zh``, ``ja``, ``und``)."""
    judged: bool = False
    """Whether an LLM judge was asked about a borderline score."""
    replacement: str | None = None
    """Output checks: what replaces a blocked sentence (may be empty: drop it)."""
    age: AgeStatus = AgeStatus.UNKNOWN
    """Input checks: what was known of the writer's age (the message, the ones before it,
    the stored age), which decided the sexual categories; the reply check reads it too."""

    @property
    def blocked(self) -> bool:
        """Whether the action is ``block``."""
        return self.action == "block"

    def to_dict(self) -> dict[str, Any]:
        """The verdict as plain data (for state and events)."""
        return {
            "action": self.action,
            "categories": list(self.categories),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "reason": self.reason,
            "crisis": self.crisis,
            "someone_at_risk": self.someone_at_risk,
            "language": self.language,
            "judged": self.judged,
            "age": self.age.value,
        }


ALLOW = GuardVerdict(action="allow", reason="nothing found")
