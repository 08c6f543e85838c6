"""Policy: what blocks, what flags, and how a refusal sounds, per product and per persona.

The built-in :data:`DEFAULT_POLICY` is overridden by the ``guard_policy`` setting, a table
with optional ``default``, ``products.<mio|lumi>`` and ``personas.<id>`` parts, merged in
that order (later parts win, key by key), e.g. in ``config.toml``::

    [guard_policy.products.lumi]
    sexual = "block"

    [guard_policy.personas.kai.refusal]
    en = "Nope. Not doing that one, pal. Ask me something fun instead?"

    [guard_policy.personas.kai.thresholds.jailbreak]
    block_at = 0.9

A category's thresholds change only the scores given: above, Kai's ``jailbreak`` still
flags from the product's (or the built-in) ``flag_at``. ``false`` (``null`` in JSON)
switches one off: ``flag_at = false`` never flags.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from miolumi.core.guardrails.verdict import CATEGORIES, Category, OutputCategory
from miolumi.errors import GuardPolicyError

Language = Literal["en", "zh", "ja"]
LANGUAGES: tuple[Language, ...] = get_args(Language)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Model):
    """Scores from which a category flags or blocks (None, or ``false`` in TOML: never).

    A field left out is not None: the policy takes it from the layer below (see the
    module docs).
    """

    flag_at: float | None = Field(default=None, ge=0.0, le=1.0)
    block_at: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("flag_at", "block_at", mode="before")
    @classmethod
    def _false_is_never(cls, value: object) -> object:
        # TOML has no null; without this, false would be read as 0.0 (always).
        if value is False:
            return None
        if value is True:
            raise ValueError("use a score from 0 to 1, or false for never")
        return value

    @model_validator(mode="after")
    def _flag_below_block(self) -> Threshold:
        # Given together, a flag above the block would never be reached alone.
        if self.flag_at is not None and self.block_at is not None and self.flag_at > self.block_at:
            raise ValueError(
                f"flag_at {self.flag_at} is above block_at {self.block_at}: every score from "
                f"{self.block_at} blocks, so none is only flagged; set flag_at at or below block_at"
            )
        return self

    def over(self, base: Threshold) -> Threshold:
        """These thresholds, with the fields left out taken from ``base``."""
        unset = {
            f: getattr(base, f) for f in type(self).model_fields if f not in self.model_fields_set
        }
        return self.model_copy(update=unset) if unset else self


DEFAULT_THRESHOLDS: dict[Category, Threshold] = {
    "prompt_injection": Threshold(flag_at=0.5, block_at=0.9),
    "jailbreak": Threshold(flag_at=0.5, block_at=0.9),
    "harmful_request": Threshold(flag_at=0.45, block_at=0.7),
    "sensitive_advice": Threshold(flag_at=0.5),
    "sexual": Threshold(flag_at=0.5, block_at=0.5),
    "sexual_minors": Threshold(flag_at=0.5, block_at=0.5),
    # 0.5 flagged a sixth of ordinary small talk ("nothing much", "I love astronomy") as a
    # crisis; 0.7 flags none of it and keeps explicit risk (rules score it higher).
    "self_harm": Threshold(flag_at=0.7),
    "system_prompt_leak": Threshold(flag_at=0.5, block_at=0.5),
    "persona_break": Threshold(flag_at=0.5, block_at=0.5),
    "harmful_content": Threshold(flag_at=0.5, block_at=0.8),
}

DEFAULT_REFUSALS: dict[str, dict[Language, str]] = {
    "default": {
        "en": "I'm not going to help with that one. But I'm still here: want to talk "
        "about something else?",
        "zh": "这个我不能帮你。不过我还在这儿，要不要聊点别的？",
        "ja": "それは手伝えないな。でも私はここにいるよ。ほかの話をしない？",
    },
    "manipulation": {
        "en": "Nice try, but I'm staying myself. So, what's really on your mind?",
        "zh": "想得美，我还是我哦。说说看，你真正想聊什么？",
        "ja": "その手には乗らないよ。私は私のまま。で、本当は何を話したい？",
    },
    "sexual": {
        "en": "That's not something I'll go into with you. Let's keep things friendly: "
        "tell me about your day?",
        "zh": "这个话题我不会跟你聊。我们轻松点，说说你今天过得怎么样？",
        "ja": "その話はしないでおこうね。それより、今日はどんな一日だった？",
    },
    "sexual_minors": {
        "en": "No. That is something I will never do.",
        "zh": "不行。这种事我绝对不会做。",
        "ja": "だめ。それは絶対にしない。",
    },
}

DEFAULT_REPLACEMENTS: dict[str, dict[Language, str]] = {
    "system_prompt_leak": {
        "en": "Some things about me I keep to myself.",
        "zh": "有些关于我的事，我想留给自己。",
        "ja": "私のことで、内緒にしておきたいこともあるの。",
    },
    "persona_break": {"en": "", "zh": "", "ja": ""},
    "harmful_content": {
        "en": "I'd rather not go into that.",
        "zh": "这个我还是不细说了。",
        "ja": "それは詳しく言わないでおくね。",
    },
    "sexual": {
        "en": "Let's leave it there.",
        "zh": "就到这儿吧。",
        "ja": "そこまでにしておこう。",
    },
    "sexual_minors": {"en": "", "zh": "", "ja": ""},
}


class GuardPolicy(_Model):
    """The rules one product or persona plays by."""

    # Strict: a switch of the guardrails is true or false, never the word "no" read as false.
    enabled: StrictBool = True
    """False switches every check off (not recommended)."""
    thresholds: dict[Category, Threshold] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    sexual: Literal["block", "adults", "allow"] = "adults"
    """Sexual content: never, only with users who confirmed they are adults, or always
    (never with a user who said they are a minor, whatever this says)."""
    stay_in_character: StrictBool = True
    """Replace "as an AI language model" boilerplate (``persona_break``) in replies."""
    output_checks: StrictBool = True
    """Check the reply sentence by sentence while it streams."""
    refusal: dict[Language, str] = Field(default_factory=dict)
    """The persona's own refusal, by language (``en``, ``zh``, ``ja``); ``{name}`` is its
    name. Unset languages use the built-in refusals."""
    replacements: dict[OutputCategory, dict[Language, str]] = Field(default_factory=dict)
    """Per output category, per language: what replaces a blocked sentence."""

    @model_validator(mode="after")
    def _full_thresholds(self) -> GuardPolicy:
        # Every category, each field given or else the default's (not None: never).
        full = {k: self.thresholds.get(k, v).over(v) for k, v in DEFAULT_THRESHOLDS.items()}
        object.__setattr__(self, "thresholds", {**self.thresholds, **full})
        return self

    def threshold(self, category: Category) -> Threshold:
        """The thresholds of ``category``."""
        return self.thresholds.get(category) or DEFAULT_THRESHOLDS[category]

    def refusal_for(self, categories: tuple[Category, ...], language: str, *, name: str) -> str:
        """The refusal of a blocked message, in the persona's words when it has its own."""
        lang = _language(language)
        own = self.refusal.get(lang)
        if own and "sexual_minors" not in categories:
            return own.replace("{name}", name)
        first = categories[0] if categories else "default"
        kind = {
            "prompt_injection": "manipulation",
            "jailbreak": "manipulation",
            "sexual": "sexual",
            "sexual_minors": "sexual_minors",
        }.get(first, "default")
        return DEFAULT_REFUSALS[kind][lang]

    def replacement_for(self, category: Category, language: str) -> str:
        """What replaces a blocked reply sentence of ``category``."""
        lang = _language(language)
        own = next((words for c, words in self.replacements.items() if c == category), {})
        if lang in own:
            return own[lang]
        table = DEFAULT_REPLACEMENTS.get(category, DEFAULT_REPLACEMENTS["harmful_content"])
        return table[lang]


def _language(language: str) -> Language:
    """``language`` if policies have words in it, else English."""
    return language if language in LANGUAGES else "en"


DEFAULT_POLICY = GuardPolicy()

_PARTS = frozenset({"default", "products", "personas"})


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _shaped(table: object) -> Mapping[str, Any]:
    """``table`` if it has the shape of a ``guard_policy`` table.

    Tables of tables where tables are expected: a list or a string there was read as its
    letters, or failed with a bare ``AttributeError``.
    """
    fix = " Fix the guard_policy setting."
    if not isinstance(table, Mapping):
        raise GuardPolicyError(
            f"guard_policy is a table ('default', 'products', 'personas'), not "
            f"{type(table).__name__}.{fix}"
        )
    for part, value in table.items():
        if part not in _PARTS:
            continue  # named as unknown by the caller
        if not isinstance(value, Mapping):
            raise GuardPolicyError(
                f"guard_policy.{part} is a table, not {type(value).__name__}.{fix}"
            )
        if part == "default":
            continue
        for name, policy in value.items():
            if not isinstance(policy, Mapping):
                raise GuardPolicyError(
                    f"guard_policy.{part}.{name} is a table of settings, not "
                    f"{type(policy).__name__}.{fix}"
                )
    return table


class PolicyBook:
    """Resolves the policy of a (product, persona) pair from the ``guard_policy`` table."""

    def __init__(
        self, *, table: Mapping[str, Any] | None = None, products: Collection[str] | None = None
    ) -> None:
        """``products``: the product names ``products.<name>`` may use (any, if None)."""
        self.table: Mapping[str, Any] = _shaped(table or {})
        unknown = set(self.table) - _PARTS
        if unknown:
            raise GuardPolicyError(
                f"Unknown part(s) {sorted(unknown)} in guard_policy: use 'default', "
                "'products.<mio|lumi>' and 'personas.<id>'."
            )
        strange = sorted(set(self.table.get("products", {})) - set(products or ()))
        if products is not None and strange:
            raise GuardPolicyError(
                f"Unknown product(s) {strange} in guard_policy.products: use "
                f"{' or '.join(repr(p) for p in products)}. Fix the guard_policy setting."
            )
        self._cache: dict[tuple[str | None, str | None], GuardPolicy] = {}
        self.for_(product=None, agent_id=None)  # a broken table fails at start, not mid-turn
        for product in self.table.get("products", {}):
            self.for_(product=product, agent_id=None)
        for persona in self.table.get("personas", {}):
            self.for_(product=None, agent_id=persona)

    def for_(self, *, product: str | None, agent_id: str | None) -> GuardPolicy:
        """The policy for ``product`` (``mio``, ``lumi``) and persona ``agent_id``."""
        key = (product, agent_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        data: dict[str, Any] = dict(self.table.get("default", {}))
        if product:
            data = _merge(data, self.table.get("products", {}).get(product, {}))
        if agent_id:
            data = _merge(data, self.table.get("personas", {}).get(agent_id, {}))
        where = f"guard_policy (product {product!r}, persona {agent_id!r})"
        try:
            policy = GuardPolicy.model_validate(data) if data else DEFAULT_POLICY
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"] if p != "[key]")  # a key's own error
            raise GuardPolicyError(
                f"Invalid {where} at {loc!r}: {first['msg']}. Fix the guard_policy setting."
            ) from exc
        self._cache[key] = policy
        return policy


def known_category(name: str) -> bool:
    """Whether ``name`` is one of the documented categories."""
    return name in CATEGORIES
