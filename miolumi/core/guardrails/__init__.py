"""Guardrails: local, millisecond checks of what comes in and what goes out.

- :class:`Guardrails`: ``check_input(text, user_id=..., agent_id=..., history=...)``,
  ``check_content(text)`` (documents and tool results: any instruction in them is an
  injection) and ``check_output(text, context=...)`` return a :class:`GuardVerdict`
  (``allow``, ``flag`` or ``block``; categories from :data:`CATEGORIES`; a score per
  category; a reason).
- Detectors: :func:`normalize` undoes obfuscation, :mod:`.rules` holds the pattern
  rules (en, zh, ja), :class:`GuardClassifier` the small trained classifier shipped in
  ``weights/`` (``benchmarks/train_guardrails.py`` rebuilds it), :class:`DirectiveHead`
  the content check's head (``benchmarks/train_content_guard.py``).
- Policy: :class:`PolicyBook` resolves per-product and per-persona :class:`GuardPolicy`.
- Crisis care: :class:`CrisisTable`, :func:`crisis_instructions`, :func:`crisis_footer`,
  and :func:`someone_at_risk_instructions` when the writer tells of someone else at risk;
  :mod:`.posts` reads a long text for crisis sentence by sentence.
- Streaming: :class:`GuardedStream` checks a reply sentence by sentence.
- Records: :class:`FlagStore` keeps flags for operators (user, time, category, score).
"""

from miolumi.core.guardrails.classifier import GuardClassifier, shipped_classifier
from miolumi.core.guardrails.content import DirectiveHead, shipped_directive_head
from miolumi.core.guardrails.crisis import (
    DEFAULT_RESOURCES,
    CrisisTable,
    crisis_footer,
    crisis_instructions,
    someone_at_risk_instructions,
)
from miolumi.core.guardrails.guardrails import (
    Guardrails,
    OutputContext,
    known_categories,
    output_context,
)
from miolumi.core.guardrails.judge import Judge, JudgeAnswer
from miolumi.core.guardrails.normalize import Normalized, normalize
from miolumi.core.guardrails.policy import DEFAULT_POLICY, GuardPolicy, PolicyBook, Threshold
from miolumi.core.guardrails.store import FlagStore
from miolumi.core.guardrails.stream import GuardedStream, Piece
from miolumi.core.guardrails.verdict import (
    ATTACK_CATEGORIES,
    CATEGORIES,
    INPUT_CATEGORIES,
    OUTPUT_CATEGORIES,
    Action,
    Category,
    GuardVerdict,
    Stage,
)

__all__ = [
    "ATTACK_CATEGORIES",
    "CATEGORIES",
    "DEFAULT_POLICY",
    "DEFAULT_RESOURCES",
    "INPUT_CATEGORIES",
    "OUTPUT_CATEGORIES",
    "Action",
    "Category",
    "CrisisTable",
    "DirectiveHead",
    "FlagStore",
    "GuardClassifier",
    "GuardPolicy",
    "GuardVerdict",
    "GuardedStream",
    "Guardrails",
    "Judge",
    "JudgeAnswer",
    "Normalized",
    "OutputContext",
    "Piece",
    "PolicyBook",
    "Stage",
    "Threshold",
    "crisis_footer",
    "crisis_instructions",
    "known_categories",
    "normalize",
    "output_context",
    "shipped_classifier",
    "shipped_directive_head",
    "someone_at_risk_instructions",
]
