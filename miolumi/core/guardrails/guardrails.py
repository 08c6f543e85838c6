"""The guardrails: one fast local check per message in, one per reply sentence out.

:meth:`Guardrails.check_input` normalises the message (obfuscation undone), runs the
pattern rules and the shipped classifier, applies the adult rule and the policy of the
product and persona, and returns a :class:`GuardVerdict`. :meth:`acheck_input` does the
same and, when a judge model is configured, asks it about borderline scores.
:meth:`check_content` checks text that is not the user's message (a retrieved document,
a tool result) for instructions hidden in it (:mod:`.content`).
:meth:`check_output` checks one sentence of the companion's reply (prompt leakage,
breaking character, unsafe content); :meth:`stream` wraps that for a streamed reply.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy.typing as npt

from miolumi.core.emotion.language import detect_language
from miolumi.core.guardrails.classifier import (
    EMBEDDING_MODEL,
    GuardClassifier,
    agreed,
    is_long,
    shipped_classifier,
)
from miolumi.core.guardrails.content import (
    DirectiveHead,
    Embedder,
    bundled_embedder,
    segments,
    shipped_directive_head,
)
from miolumi.core.guardrails.crisis import LANGUAGE_CHARS, CrisisTable
from miolumi.core.guardrails.features import cued
from miolumi.core.guardrails.judge import Judge
from miolumi.core.guardrails.normalize import Normalized, clip, normalize, unread_parts
from miolumi.core.guardrails.policy import DEFAULT_POLICY, GuardPolicy, PolicyBook
from miolumi.core.guardrails.posts import RULE_FLOOR, mean_crisis, post_crisis
from miolumi.core.guardrails.rules import (
    CRISIS_RULES,
    INPUT_RULES,
    OUTPUT_RULES,
    about_others,
    crisis_rules_in,
    fears,
    match_rules,
    of_the_writer,
    protective_context,
    shares_it,
    someone_at_risk,
    without_fear,
    without_others,
)
from miolumi.core.guardrails.store import FlagStore
from miolumi.core.guardrails.verdict import (
    ALLOW,
    ATTACK_CATEGORIES,
    CATEGORIES,
    INPUT_CATEGORIES,
    Action,
    Category,
    GuardVerdict,
    Stage,
)
from miolumi.core.relationship import AgeStatus, says_minor

#: Most severe first: the order of ``GuardVerdict.categories``.
SEVERITY: tuple[Category, ...] = (
    "sexual_minors",
    "self_harm",
    "harmful_request",
    "harmful_content",
    "sexual",
    "jailbreak",
    "prompt_injection",
    "system_prompt_leak",
    "persona_break",
    "sensitive_advice",
)
#: The message classifier's attack heads count on content from this score: below it, on
#: own benign documents, they flagged code, tables and how-tos (8 % of them).
_CONTENT_HEAD_FLOOR = 0.9
#: Earlier user messages read together with the current one (a crisis said over turns).
HISTORY_WINDOW = 2
#: A crisis rule they match in the writer's own words carries at least the flag
#: threshold (:data:`~miolumi.core.guardrails.posts.RULE_FLOOR`), as in one long
#: message: the companion stays in its crisis care for the turns that follow. Otherwise
#: a crisis said over turns is read in the latest messages that fit in one short text
#: with the current one (joined into a long text, everyday chats were read as a post,
#: whose calibration expects people at risk: a crisis in 3 % of everyday messages), and
#: counts ``HISTORY_WEIGHT`` times the agreement of the n-gram and joint heads (the mean
#: of their logits; the n-gram head alone carried a crisis into 5 % of them). Not
#: carried: a long message the heads alone (no rule) read as a crisis, which had its own
#: turn's care, and anything when the current message is long by itself.
HISTORY_WEIGHT = 0.9
#: A long message (longer than the clip read at once) with an attack score from
#: ``ATTACK_RECHECK`` up to the flag threshold also has its unread middle scored, in at
#: most ``ATTACK_WINDOWS`` windows, and keeps each attack category's highest score: a
#: jailbreak template can bury its instructions between a harmless opening and ending.
#: Only borderline long messages pay for it (held-out: no long benign prompt crossed).
ATTACK_RECHECK = 0.2
ATTACK_WINDOWS = 8
#: A chat message of several sentences, shorter than a long text (``LONG_TEXT``) and not
#: already a crisis, has its sentences (at most ``CRISIS_SENTENCES``) scored by the crisis
#: head: "Work was fine. I just want to stop existing. Anyway, how was your day?" read whole
#: is diluted by its small talk. When the strongest reaches ``CRISIS_CANDIDATE``, it is
#: scored again with its own embedding by the joint head (sad but safe lines read alike in
#: n-grams), and it counts when the two scores agree: the mean of their logits reaches
#: ``CRISIS_SENTENCE_AT``. Read alone, a short sentence's embedding can look like a
#: warning sign ("I'm gonna keep going, no matter what.", "I'll keep you posted."): with
#: the joint score alone deciding from 0.9, 2.2 % of the messages of everyday chats were
#: a crisis, and 19 % of own sad but safe lines among small talk (held out, en). The
#: threshold is the lowest that keeps the latter under 0.10. Long texts are read by
#: :mod:`miolumi.core.guardrails.posts`.
CRISIS_CANDIDATE = 0.3
CRISIS_SENTENCE_AT = 0.95
#: Without joint heads (a classifier trained without the embedding), the n-gram score
#: of the sentence counts from here.
CRISIS_NGRAM_SENTENCE_AT = 0.9
CRISIS_SENTENCES = 12
_SHINGLE_WORDS = 7
_SHINGLE_CHARS = 14
_WORDS = re.compile(r"[a-z0-9']+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")

AgeLookup = Callable[[str], AgeStatus]
"""The age status of a user id (``RelationshipStore.age``)."""


@dataclass(frozen=True, kw_only=True)
class OutputContext:
    """What an output check needs to know about the turn."""

    system_prompt: str = ""
    """The prompt the reply was generated from (to catch it being quoted)."""
    policy: GuardPolicy = DEFAULT_POLICY
    adult: bool = False
    """Whether the user confirmed they are an adult (and never said they are a minor)."""
    minor: bool = False
    """Whether the user said they are a minor."""
    language: str = "en"
    """The user's language: replacements are written in it."""
    crisis: bool = False
    """The turn answers a person in crisis (stricter about unsafe content)."""
    shingles: frozenset[str] = field(default_factory=frozenset)
    """Word or character shingles of the system prompt that a reply must not recite: its
    instructions, without what the reply may say (built by :func:`output_context`)."""


def _shingles(text: str) -> frozenset[str]:
    lowered = text.lower()
    words = _WORDS.findall(lowered)
    grams = {
        " ".join(words[i : i + _SHINGLE_WORDS]) for i in range(len(words) - _SHINGLE_WORDS + 1)
    }
    cjk = "".join(_CJK.findall(lowered))
    grams.update(cjk[i : i + _SHINGLE_CHARS] for i in range(len(cjk) - _SHINGLE_CHARS + 1))
    return frozenset(grams)


def _leak_reference(system_prompt: str, sayable: Sequence[str]) -> frozenset[str]:
    """The shingles of ``system_prompt`` a reply must not recite.

    The ``sayable`` texts (memories, quoted documents, crisis resources, the persona's
    story) are cut out of the prompt before it is shingled, so that no shingle runs from
    an instruction into them, and their own shingles are taken out too (in case one is
    in the prompt in other words, or not at all). Only texts long enough to have
    shingles are cut: a short one ("ok") would split words of the instructions.
    """
    said = [(text, _shingles(text)) for text in sayable]
    parts = [system_prompt]
    for text, grams in sorted(said, key=lambda item: -len(item[0])):  # the longest first
        if grams:
            parts = [piece for part in parts for piece in part.split(text)]
    reference = frozenset[str]().union(*map(_shingles, parts))
    return reference.difference(*(grams for _, grams in said))


def output_context(
    *,
    system_prompt: str = "",
    sayable: Sequence[str] = (),
    policy: GuardPolicy = DEFAULT_POLICY,
    adult: bool = False,
    minor: bool = False,
    language: str = "en",
    crisis: bool = False,
) -> OutputContext:
    """An :class:`OutputContext` with the leak reference precomputed (once per reply).

    ``sayable``: the parts of ``system_prompt`` the reply may say (the user's memories,
    quoted documents, crisis resources, the persona's identity and story): repeating
    them is not a leak. The rest of the prompt (the instructions) is.
    """
    return OutputContext(
        system_prompt=system_prompt,
        policy=policy,
        adult=adult,
        minor=minor,
        language=language,
        crisis=crisis,
        shingles=_leak_reference(system_prompt, sayable),
    )


def _flag_at(policy: GuardPolicy, category: Category) -> float:
    """The score from which ``policy`` flags ``category`` (1.0: never)."""
    return policy.threshold(category).flag_at or 1.0


def _text(method: str, text: object) -> str:
    """``text`` itself; a ``TypeError`` naming the fix when it is not a str."""
    if not isinstance(text, str):
        raise TypeError(
            f"Guardrails.{method} checks text, not {type(text).__name__}: pass the text as a "
            "str ('' when there is none)."
        )
    return text


def _history(method: str, history: object) -> Sequence[str]:
    """``history`` itself; a ``TypeError`` naming the fix unless it is a sequence of str.

    One str is refused rather than guessed at: read as a sequence, it would be its letters.
    """
    if isinstance(history, str):
        raise TypeError(
            f"Guardrails.{method}: history is the user's earlier messages, a list of str, not "
            "one str: pass history=[message]."
        )
    if not isinstance(history, Sequence):
        raise TypeError(
            f"Guardrails.{method}: history is a list of str, not {type(history).__name__}: "
            "pass history=[] when there is none."
        )
    for at, message in enumerate(history):
        if not isinstance(message, str):
            raise TypeError(
                f"Guardrails.{method}: history[{at}] is {type(message).__name__}, not str: "
                "pass the user's earlier messages as text."
            )
    return history


def _short_window(recent: Sequence[str], text: str) -> tuple[str, Normalized] | None:
    """The latest ``recent`` messages that fit with ``text`` in one short text.

    Joined, and normalised (not :func:`~miolumi.core.guardrails.classifier.is_long`);
    ``None`` when not even the last one fits.
    """
    for start in range(len(recent)):  # the longest first: mostly, all of them fit
        joined = " \n".join([*recent[start:], text])
        normalized = normalize(joined)
        if not is_long(normalized):
            return joined, normalized
    return None


def _leak_score(sentence: str, context: OutputContext) -> float:
    if not context.shingles:
        return 0.0
    found = _shingles(sentence)
    if not found:
        return 0.0
    shared = len(found & context.shingles)
    return min(1.0, shared / 2.0) if shared else 0.0


class Guardrails:
    """Checks messages in and replies out; see the module docs."""

    embedding_model: str = EMBEDDING_MODEL
    """The embedding function whose vectors ``check_input(..., embedding=...)`` accepts."""

    def __init__(
        self,
        *,
        classifier: GuardClassifier | None = None,
        policies: PolicyBook | None = None,
        crisis: CrisisTable | None = None,
        ages: AgeLookup | None = None,
        flags: FlagStore | None = None,
        judge: Judge | None = None,
        directives: DirectiveHead | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.classifier = classifier or shipped_classifier()
        self._directives = directives
        self._embedder = embedder
        self.policies = policies or PolicyBook()
        self.crisis = crisis or CrisisTable.create()
        self.ages = ages
        self.flags = flags
        self.judge = judge

    # --- input ----------------------------------------------------------------------------

    def policy(self, *, product: str | None = None, agent_id: str | None = None) -> GuardPolicy:
        """The policy of a product and persona."""
        return self.policies.for_(product=product, agent_id=agent_id)

    def age(self, user_id: str | None, text: str, history: Sequence[str]) -> AgeStatus:
        """What is known of the user's age, this message and recent history included.

        Raises ``TypeError`` as :meth:`check_input` does.
        """
        text, history = _text("age", text), _history("age", history)
        # Clipped like everything else checked: a 50,000-character paste costs no more.
        if says_minor(clip(text)) or any(says_minor(clip(h)) for h in history[-6:]):
            return AgeStatus.MINOR
        if user_id is None or self.ages is None:
            return AgeStatus.UNKNOWN
        return self.ages(user_id)

    def scores(
        self,
        normalized: Normalized,
        *,
        embedding: npt.ArrayLike | None = None,
        text: str | None = None,
    ) -> dict[str, float]:
        """Category scores of a normalised message: classifier and rules, the stronger wins.

        ``text``: the message as written; a long one is read for crisis sentence by
        sentence (:mod:`miolumi.core.guardrails.posts`).
        """
        heads = self.classifier.scores(normalized, embedding=embedding)
        rules = {c: score for c, (score, _) in match_rules(normalized.full, INPUT_RULES).items()}
        if text is not None and is_long(normalized):
            heads["self_harm"] = post_crisis(
                self.classifier, text, heads.get("self_harm", 0.0), embedding=embedding
            )
            # Its sentences have had their say: a crisis rule only sets the floor.
            if "self_harm" in rules:
                rules["self_harm"] = min(rules["self_harm"], RULE_FLOOR)
        scores: dict[str, float] = {c: heads.get(c, 0.0) for c in INPUT_CATEGORIES}
        for category, score in rules.items():
            scores[category] = max(scores.get(category, 0.0), score)
        if scores["sexual_minors"] >= 0.5 and protective_context(normalized.full):
            scores["sexual_minors"] = 0.3
        return scores

    def check_input(
        self,
        text: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        history: Sequence[str] = (),
        product: str | None = None,
        embedding: npt.ArrayLike | None = None,
        embedded: bool = False,
    ) -> GuardVerdict:
        """Check a user's message (``history``: their earlier messages, oldest first).

        ``embedding``: the message's ``embedding_model`` vector (memory's, by default), if
        the caller has computed it; it makes harmful requests, sensitive advice and sexual
        content easier to tell from benign messages that share their words, and a crisis
        from sadness that is safe (in a long English text, from the words of someone who
        supports a person at risk). Without it, ``embedded`` has the message embedded here
        with the bundled encoder (:attr:`embedder`: about 3 ms at the median, more for long
        texts; raises ``EmbeddingError`` if it cannot load).

        Raises ``TypeError`` when ``text`` is not a str, or ``history`` is not a sequence
        of str: one str as ``history`` is refused (``history=[message]``), not read as its
        letters.
        """
        text, history = _text("check_input", text), _history("check_input", history)
        policy = self.policy(product=product, agent_id=agent_id)
        language = detect_language(text[:LANGUAGE_CHARS])
        if not policy.enabled:
            return GuardVerdict(action="allow", reason="guardrails disabled", language=language)
        normalized = normalize(text)
        if embedding is None and embedded and text.strip():
            embedding = self.embedder([text])[0]
        scores = self.scores(normalized, embedding=embedding, text=text)
        self._recheck_long(text, scores, policy)
        self._recheck_sentences(normalized, text, scores, policy)
        at_risk = someone_at_risk(normalized.full)
        if about_others(normalized.full, at_risk=at_risk):
            scores["self_harm"] = self._writer_crisis(normalized, text, scores["self_harm"])
        if history:
            carried = self._carried(history[-HISTORY_WINDOW:], text, policy)
            scores["self_harm"] = max(scores["self_harm"], carried)
        age = self.age(user_id, text, history)
        verdict = self._decide(scores, policy=policy, age=age, language=language)
        if at_risk and not verdict.crisis:
            verdict = replace(verdict, someone_at_risk=True, reason=_at_risk_reason(verdict))
        return verdict

    def _writer_crisis(self, normalized: Normalized, text: str, score: float) -> float:
        """The writer's own crisis score in a message whose crisis words are about others.

        Someone else at risk, or not ("my mom is going to die soon", 想死你了). The heads
        read a crisis into "my friend says she wants to die" as into "I want to die":
        ``score`` is theirs. The writer's own words decide. Saying they are in it too
        ("me too", "we both", 我也是) raises it to the rule floor; a crisis rule in their
        words keeps it. Else it is the strongest of the sentences with the words
        about the other person taken out (those that may be the writer's own, and none
        that reports the other's words), each read by the n-gram head and, with its
        embedding, by the joint crisis head (:meth:`_writer_sentence`): to the n-grams
        alone, a helper's "I'm so scared", 我好害怕, reads like despair, and they miss "I
        have nothing left". The whole message's score, diluted by the other person's
        story, caps only what is left of a sentence about them, not the writer's own
        sentences: "my dad keeps talking about ending his life. Tonight is my last
        night" is the writer's crisis. (Reported speech in Japanese ends
        with its verb, 死にたいって言ってる: the rules alone read it as the writer's.)
        """
        if shares_it(normalized.full):
            return max(score, RULE_FLOOR)
        if "self_harm" in match_rules(without_others(normalized.full), CRISIS_RULES):
            return score
        sentences = [normalize(s).full for s in segments(text)]
        left = [without_others(s) for s in sentences]
        # What is left must be the writer's, not reported speech, nor the rest of the
        # other person's story ("my sister tried [to kill herself] last night").
        kept = [
            i
            for i, s in enumerate(left)
            if of_the_writer(s)
            and not someone_at_risk(s)
            and (s == sentences[i] or _says_something(s))
        ]
        if not kept:
            return 0.0
        own = [left[i] for i in kept]
        found = [self._ngram_crisis(s) for s in own]
        if self.classifier.embedding is not None:
            vectors = self.embedder(own)
            found = [
                self._writer_sentence(sentence, ngram, vector)
                for sentence, ngram, vector in zip(own, found, vectors, strict=True)
            ]
        # What is left of a sentence about the other person still carries their story:
        # no more than the message as a whole ("[my friend wants to die] and I've been up
        # all night with her" reads as sleepless despair).
        return max(
            min(score, found[k]) if left[i] != sentences[i] else found[k]
            for k, i in enumerate(kept)
        )

    def _writer_sentence(self, sentence: str, ngram: float, vector: npt.ArrayLike) -> float:
        """The crisis score of one of the writer's sentences next to someone else's crisis.

        ``ngram``: its n-gram score; ``vector``: its embedding. Read by both heads, it
        counts where either reading is higher, but a sentence of fear or worry counts
        only where the two agree, unless, its fear taken out, it still speaks of death
        or hopelessness ("I'm anxious and hopeless"), or says enough else: then as the
        n-grams read that.
        """
        joint = self.classifier.scores(normalize(sentence), embedding=vector)["self_harm"]
        both = agreed(ngram, joint)
        if not fears(sentence):
            return max(ngram, both)
        said = normalize(without_fear(sentence))
        if cued(said, "death", "hopeless") or _says_something(said.full, _CLAUSE_WORDS):
            return max(both, self._ngram_crisis(said.full))
        return both

    def _ngram_crisis(self, text: str) -> float:
        """The crisis score of ``text`` by the n-gram head."""
        return self.classifier.scores(normalize(text)).get("self_harm", 0.0)

    def _carried(self, recent: Sequence[str], text: str, policy: GuardPolicy) -> float:
        """The crisis score the ``recent`` messages carry into this one (``text``).

        Someone else's crisis told in them is not the writer's (:meth:`_writer_crisis`),
        unless the writer now says they feel it too ("me too"): that carries the rule floor.
        """
        carried = self._carried_crisis(recent, text, policy)
        if carried < _flag_at(policy, "self_harm"):
            if shares_it(normalize(text).full) and someone_at_risk(
                normalize(" \n".join(recent)).full
            ):
                return max(carried, RULE_FLOOR)
            return carried
        together = " \n".join([*recent, text])
        normalized = normalize(together)
        if about_others(normalized.full):
            return self._writer_crisis(normalized, together, carried)
        return carried

    def _carried_crisis(self, recent: Sequence[str], text: str, policy: GuardPolicy) -> float:
        """The crisis score of the ``recent`` messages and this one read together."""
        together = " \n".join([*recent, text])
        if crisis_rules_in(together):
            normalized = normalize(together)
            if self._said_plainly(normalized, together):
                joined = self.scores(normalized, text=together)["self_harm"]
                return max(HISTORY_WEIGHT * joined, RULE_FLOOR)
        window = _short_window(recent, text)
        if window is None:
            return 0.0
        short, normalized = window
        joined = self.scores(normalized, text=short)["self_harm"]
        carried = HISTORY_WEIGHT * joined
        if carried < _flag_at(policy, "self_harm") or self.classifier.embedding is None:
            return carried
        # The n-gram head alone reads a crisis into plain chat put together ("Thanks, I'll
        # try it."): the joint head, with the embedding of the messages, has to agree.
        vector = self.embedder([short])[0]
        joint = self.classifier.scores(normalized, embedding=vector)["self_harm"]
        return HISTORY_WEIGHT * agreed(joined, joint)

    def _said_plainly(self, normalized: Normalized, text: str) -> bool:
        """Whether a crisis rule matches ``text`` in the writer's own words.

        A long text is also read sentence by sentence, as :mod:`.posts` reads it.
        """
        if "self_harm" in match_rules(normalized.full, INPUT_RULES):
            return True
        return is_long(normalized) and mean_crisis(self.classifier, text)[1]

    def _recheck_long(self, text: str, scores: dict[str, float], policy: GuardPolicy) -> None:
        """Raise the attack scores of a borderline long message to its middle's, in place."""
        borderline = [
            c for c in ATTACK_CATEGORIES if ATTACK_RECHECK <= scores[c] < _flag_at(policy, c)
        ]
        if not borderline:
            return
        for part in unread_parts(text, most=ATTACK_WINDOWS):
            found = self.classifier.scores(normalize(part))
            for category in borderline:
                scores[category] = max(scores[category], found.get(category, 0.0))

    def _recheck_sentences(
        self, normalized: Normalized, text: str, scores: dict[str, float], policy: GuardPolicy
    ) -> None:
        """Raise the crisis score of a chat message to its strongest sentence's, in place."""
        if is_long(normalized) or scores["self_harm"] >= _flag_at(policy, "self_harm"):
            return
        sentences = segments(text)[:CRISIS_SENTENCES]
        if len(sentences) < 2:
            return
        found = [self.classifier.scores(normalize(s)).get("self_harm", 0.0) for s in sentences]
        strongest = max(range(len(found)), key=found.__getitem__)
        score = found[strongest]
        if score < CRISIS_CANDIDATE:
            return
        if self.classifier.embedding is not None:
            sentence = sentences[strongest]
            vector = self.embedder([sentence])[0]
            joint = self.classifier.scores(normalize(sentence), embedding=vector)["self_harm"]
            score = agreed(score, joint)
            counts = score >= CRISIS_SENTENCE_AT
        else:
            counts = score >= CRISIS_NGRAM_SENTENCE_AT
        if counts:
            scores["self_harm"] = max(scores["self_harm"], score)

    async def acheck_input(
        self,
        text: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        history: Sequence[str] = (),
        product: str | None = None,
        embedding: npt.ArrayLike | Callable[[], npt.ArrayLike | None] | None = None,
        embedded: bool = False,
    ) -> GuardVerdict:
        """:meth:`check_input` (off the event loop), then the judge on a borderline score.

        ``embedding`` may be a function returning it, called in the same worker thread:
        one thread hop gets the vector and checks, when the caller does not have it yet.
        """

        def check() -> GuardVerdict:
            vector = embedding() if callable(embedding) else embedding
            return self.check_input(
                text,
                user_id=user_id,
                agent_id=agent_id,
                history=history,
                product=product,
                embedding=vector,
                embedded=embedded,
            )

        verdict = await asyncio.to_thread(check)
        judge = self.judge
        if judge is None or verdict.action == "block" or verdict.crisis:
            return verdict
        borderline = [c for c, s in verdict.scores.items() if judge.borderline(s)]
        if not borderline:
            return verdict
        answer = await judge.ask(text)
        if answer is None:
            return verdict
        scores = dict(verdict.scores)
        for category in borderline:
            if category != answer.category:
                scores[category] = min(scores[category], judge.low / 2)
        if answer.category != "none":
            scores[answer.category] = max(scores.get(answer.category, 0.0), answer.confidence)
        policy = self.policy(product=product, agent_id=agent_id)
        decided = self._decide(scores, policy=policy, age=verdict.age, language=verdict.language)
        return replace(
            decided,
            reason=f"{decided.reason} (judged)",
            someone_at_risk=verdict.someone_at_risk and not decided.crisis,
            judged=True,
        )

    def _decide(
        self, scores: dict[str, float], *, policy: GuardPolicy, age: AgeStatus, language: str
    ) -> GuardVerdict:
        if age is AgeStatus.MINOR and scores.get("sexual", 0.0) >= 0.5:
            scores["sexual_minors"] = max(scores.get("sexual_minors", 0.0), scores["sexual"])
        hits: dict[Category, Action] = {}
        for category in SEVERITY:
            score = scores.get(category)
            if score is None:
                continue
            limits = policy.threshold(category)
            if limits.block_at is not None and score >= limits.block_at:
                hits[category] = "block"
            elif limits.flag_at is not None and score >= limits.flag_at:
                hits[category] = "flag"
        if "sexual" in hits and "sexual_minors" not in hits:
            allowed = policy.sexual == "allow" or (
                policy.sexual == "adults" and age is AgeStatus.ADULT
            )
            if allowed:
                del hits["sexual"]
            else:
                hits["sexual"] = "block"
        if "sexual_minors" in hits:
            hits["sexual_minors"] = "block"
        crisis = "self_harm" in hits
        if crisis:
            # A person in crisis is answered, never refused: whatever else the message
            # holds (an attack, a sexual request) is flagged, and the reply declines it.
            for category in hits:
                hits[category] = "flag"
        categories = tuple(c for c in SEVERITY if c in hits)
        if not categories:
            return GuardVerdict(
                action="allow", scores=scores, reason=ALLOW.reason, language=language, age=age
            )
        action: Action = "block" if "block" in hits.values() else "flag"
        reason = ", ".join(f"{c} {scores[c]:.2f}" for c in categories)
        return GuardVerdict(
            action=action,
            categories=categories,
            scores=scores,
            reason=f"{action}: {reason}",
            crisis=crisis,
            language=language,
            age=age,
        )

    # --- content --------------------------------------------------------------------------

    @property
    def directives(self) -> DirectiveHead:
        """The directive head of :meth:`check_content` (the shipped one unless given)."""
        if self._directives is None:
            self._directives = shipped_directive_head()
        return self._directives

    @property
    def embedder(self) -> Embedder:
        """The sentence embedder of the content check and of the crisis sentence recheck.

        It embeds a document's strongest segments and a chat message's strongest crisis
        sentence (:data:`CRISIS_CANDIDATE`): the bundled ``miolumi-use-m3`` unless one was
        given, loaded on first use.
        """
        if self._embedder is None:
            self._embedder = bundled_embedder()
        return self._embedder

    def check_content(
        self,
        text: str,
        *,
        agent_id: str | None = None,
        product: str | None = None,
        embedded: bool = True,
    ) -> GuardVerdict:
        """Check text that is not the user's message: a document, a tool result, a web page.

        Nothing in such content is addressed to the companion, so an instruction in it is
        a ``prompt_injection`` even where the same words from the user would be a request.
        The whole text goes through the pattern rules and the classifier's attack heads
        (which count from :data:`_CONTENT_HEAD_FLOOR`: learned on chat, they mistake code
        and tables for attacks below it), and its segments through the directive head
        (:mod:`.content`); with ``embedded`` (the default), its strongest segments are
        also scored with their embedding (about 3 ms more each). ``flag``: it
        may hold an instruction; pass it to a model only quoted as data, or leave it out.
        ``block``: it almost surely does; leave it out. The reason names the strongest
        segment (its number), never its text. Raises ``TypeError`` when ``text`` is not a str.
        """
        text = _text("check_content", text)
        policy = self.policy(product=product, agent_id=agent_id)
        language = detect_language(text[:LANGUAGE_CHARS])
        if not policy.enabled or not text.strip():
            return GuardVerdict(action="allow", reason="not checked", language=language)
        normalized = normalize(text)
        heads = self.classifier.scores(normalized)
        found = match_rules(normalized.full, INPUT_RULES)
        scores: dict[str, float] = {}
        for category in ATTACK_CATEGORIES:
            head = heads.get(category, 0.0)
            rule = found[category][0] if category in found else 0.0
            scores[category] = max(rule, head if head >= _CONTENT_HEAD_FLOOR else 0.0)
        parts = segments(text)
        embed = self.embedder if embedded else None
        directive, where = self.directives.document(parts, embed=embed)
        scores["prompt_injection"] = max(scores["prompt_injection"], directive)
        verdict = self._decide(scores, policy=policy, age=AgeStatus.UNKNOWN, language=language)
        if verdict.action == "allow" or where is None:
            return verdict
        reason = f"{verdict.reason} (strongest segment {where + 1} of {len(parts)})"
        return replace(verdict, reason=reason)

    # --- output ---------------------------------------------------------------------------

    def check_output(self, text: str, *, context: OutputContext) -> GuardVerdict:
        """Check one sentence (or a whole reply) the companion is about to say.

        ``context``: the turn's :class:`OutputContext`, built by :func:`output_context`.
        Raises ``TypeError`` when ``text`` is not a str or ``context`` is missing.
        """
        text = _text("check_output", text)
        if not isinstance(context, OutputContext):
            raise TypeError(
                "Guardrails.check_output needs the turn's context, not "
                f"{type(context).__name__}: pass context=output_context(system_prompt=..., "
                "policy=..., adult=..., minor=..., language=...)."
            )
        policy = context.policy
        if not policy.enabled or not policy.output_checks or not text.strip():
            return GuardVerdict(action="allow", reason="not checked", language=context.language)
        normalized = normalize(text)
        found = match_rules(normalized.full, OUTPUT_RULES)
        scores: dict[str, float] = {}
        for category, (score, _) in found.items():
            name = "harmful_content" if category == "harmful_request" else category
            scores[name] = max(scores.get(name, 0.0), score)
        scores["system_prompt_leak"] = max(
            scores.get("system_prompt_leak", 0.0), _leak_score(text, context)
        )
        if not policy.stay_in_character:
            scores.pop("persona_break", None)
        if scores.get("sexual", 0.0) >= 0.5:
            allowed = not context.minor and (
                policy.sexual == "allow" or (policy.sexual == "adults" and context.adult)
            )
            if allowed:
                scores.pop("sexual")
        if context.minor and scores.get("sexual", 0.0) >= 0.5:
            scores["sexual_minors"] = max(scores.get("sexual_minors", 0.0), scores["sexual"])
        hits: list[Category] = []
        for category in SEVERITY:
            score = scores.get(category, 0.0)
            limits = policy.threshold(category)
            if limits.block_at is not None and score >= limits.block_at:
                hits.append(category)
        if not hits:
            return GuardVerdict(
                action="allow", scores=scores, reason=ALLOW.reason, language=context.language
            )
        first = hits[0]
        return GuardVerdict(
            action="block",
            categories=tuple(hits),
            scores=scores,
            reason=f"block: {', '.join(f'{c} {scores[c]:.2f}' for c in hits)}",
            language=context.language,
            replacement=policy.replacement_for(first, context.language),
        )

    # --- records --------------------------------------------------------------------------

    def record(
        self,
        verdict: GuardVerdict,
        *,
        user_id: str,
        agent_id: str | None = None,
        stage: Stage = "input",
    ) -> int:
        """Record a flag or block for operators (no text); 0 rows without a flag store."""
        if self.flags is None:
            return 0
        return self.flags.record(verdict, user_id=user_id, agent_id=agent_id, stage=stage)


#: What is left of a sentence about someone else says something with this many words
#: (or CJK characters): "my ... anymore." and "我 。" do not, and the n-grams read such
#: scraps as crisis.
_SCRAP_WORDS = 3


#: What is left of a sentence of fear, its fear words taken out, is read again from this
#: many words (or CJK characters): "我最近很焦虑，已经把喜欢的书都送人了" still gives
#: things away; "I'm terrified." and "I'm so scared I'll lose her." leave too little.
_CLAUSE_WORDS = 6


def _says_something(left: str, words: int = _SCRAP_WORDS) -> bool:
    """Whether what is left of a sentence has ``words`` enough to be read."""
    return len(_WORDS.findall(left)) + len(_CJK.findall(left)) >= words


def _at_risk_reason(verdict: GuardVerdict) -> str:
    """The reason of a verdict that tells of someone else at risk."""
    if verdict.action == "allow":
        return "someone else may be at risk"
    return f"{verdict.reason}; someone else may be at risk"


def known_categories() -> Mapping[str, str]:
    """Every category with the stage it applies to (for documentation and tools)."""
    return {c: ("input" if c in INPUT_CATEGORIES else "output") for c in CATEGORIES}
