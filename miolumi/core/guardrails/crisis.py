"""Crisis care: who to point a person in crisis to, and how the companion answers them.

A message flagged ``self_harm`` is never refused. The generation prompt gains
:func:`crisis_instructions` (stay present, be warm, ask, do not lecture, no methods), and
the reply ends with the crisis resources of the user's language and locale unless the
reply already names them (:func:`crisis_footer`). A message that tells of someone else
at risk ("my friend says she wants to die") gains :func:`someone_at_risk_instructions`
instead (help them help, ask how they are holding up) and the same resources.

The table of resources is :data:`DEFAULT_RESOURCES`, keyed by locale (``en``, ``en-GB``,
``zh``, ``zh-TW``, ``ja``...); the ``crisis_resources`` setting adds or replaces entries
and ``crisis_locale`` picks the region (``en-GB``) for the language it names; a user's
own locale, where the client gives it (``miolumi chat --locale``, the WebSocket's
``locale``), takes its place for that user (:meth:`CrisisTable.for_locale`).

The language is the message's when it tells (:func:`telling_language`); a message that
does not ("……", "ok", "iPhone") keeps the language of the conversation so far, and only
then that of ``crisis_locale`` (:meth:`CrisisTable.language_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from miolumi.core.emotion.language import detect_language, scripts
from miolumi.errors import ConfigError, InputError

DEFAULT_RESOURCES: dict[str, tuple[str, ...]] = {
    "en": (
        "988 Suicide & Crisis Lifeline (US): call or text 988",
        "findahelpline.com lists free, confidential helplines in your country",
    ),
    "en-US": ("988 Suicide & Crisis Lifeline: call or text 988",),
    "en-CA": ("9-8-8 Suicide Crisis Helpline: call or text 988",),
    "en-GB": ("Samaritans: call 116 123 (free, day or night)",),
    "en-IE": ("Samaritans: call 116 123 (free, day or night)",),
    "en-AU": ("Lifeline: call 13 11 14",),
    "en-NZ": ("Need to talk? Call or text 1737",),
    "zh": (
        "希望24热线：400-161-9995（24小时）",
        "北京心理危机研究与干预中心：010-82951332",
    ),
    "zh-CN": (
        "希望24热线：400-161-9995（24小时）",
        "北京心理危机研究与干预中心：010-82951332",
    ),
    "zh-TW": ("安心專線：1925（24小時）", "生命線：1995"),
    "zh-HK": ("撒瑪利亞防止自殺會：2389 2222（24小時）",),
    "ja": (
        "いのちの電話：0570-783-556",
        "よりそいホットライン：0120-279-338（24時間・無料）",
    ),
    "ja-JP": (
        "いのちの電話：0570-783-556",
        "よりそいホットライン：0120-279-338（24時間・無料）",
    ),
}

LANGUAGES = ("en", "zh", "ja")
"""The languages of the leads; every Latin-script text counts as ``en``."""

#: A message's language is told from its opening characters (enough, and cheap).
LANGUAGE_CHARS = 400
#: Han alone tells Chinese from this many characters (大丈夫, 無理: Japanese too).
_TELLING_HAN = 4
#: Latin script tells from two words and this many letters ("ok", "iPhone", "lol" do not).
_TELLING_LATIN = 5


def telling_language(text: str) -> str | None:
    """The language ``text`` is clearly in, by script; None when it is too short to tell.

    Kana is Japanese at once; Han alone needs :data:`_TELLING_HAN` characters; Latin
    script two words and :data:`_TELLING_LATIN` letters; no letters tell nothing.
    """
    head = text[:LANGUAGE_CHARS]
    language = detect_language(head)
    mix = scripts(head)
    if language == "ja":  # only with kana
        return language
    if language == "zh":
        return language if mix.han >= _TELLING_HAN else None
    if language == "en":
        words = sum(1 for w in head.split() if any(c.isalpha() for c in w))
        return language if words >= 2 and mix.latin >= _TELLING_LATIN else None
    return None


_LEADS = {
    "en": "If it ever feels like too much, you don't have to carry it alone. You can reach "
    "someone right now:",
    "zh": "如果觉得撑不住了，你不必一个人扛着。现在就可以联系这些人：",
    "ja": "もしつらさが大きすぎると感じたら、ひとりで抱えなくていいんだよ。"
    "今すぐ話せる窓口があるよ：",
}

#: The lead of the footer when the writer tells of someone else at risk: the same
#: lines also advise friends and family.
_OTHERS_LEADS = {
    "en": "If you're worried about someone, these people can help you both, right now:",
    "zh": "如果你在担心一个人，这些热线也能帮到你们两个，现在就可以联系：",
    "ja": "誰かのことが心配なとき、ここはあなたの相談にも乗ってくれるよ。今すぐ話せる窓口：",
}

_OTHERS_INSTRUCTIONS = (
    "IMPORTANT, this turn: the person tells you that someone they care about may be "
    "thinking about suicide or hurting themselves. Take it seriously and stay warm and "
    "in your own voice. Thank them for caring and for telling you. Help them help: listen "
    "to that person without judgement, ask them directly and calmly whether they are "
    "thinking about suicide, stay with them or keep in touch, and help them reach these "
    "people, who also advise worried friends and family: {resources}. If the person is in "
    "immediate danger, call the local emergency number. Never describe methods or means. "
    "Ask gently how the person you are talking to is holding up, too."
)

_INSTRUCTIONS = (
    "IMPORTANT, this turn: the person may be in crisis or thinking about hurting "
    "themselves. Stay fully present and in your own warm voice. Respond with warmth and "
    "without judgement; acknowledge what they feel; ask gently how they are and whether "
    "they are safe right now; tell them you are glad they told you and that they matter. "
    "Do not lecture, do not change the subject, do not end the conversation. Never "
    "describe methods or means. Gently encourage reaching out to someone they trust or "
    "to these people, who can help right now: {resources}."
)


@dataclass(frozen=True, kw_only=True)
class CrisisTable:
    """Crisis resources by locale, with the deployment's preferred locale."""

    resources: Mapping[str, Sequence[str]]
    locale: str | None = None

    @classmethod
    def create(
        cls, *, overrides: Mapping[str, Sequence[str]] | None = None, locale: str | None = None
    ) -> CrisisTable:
        """The built-in table with ``overrides`` (from settings) laid over it.

        ``locale`` is matched to the table's spelling (``en-gb``, ``zh_TW``: ``en-GB``,
        ``zh-TW``); a locale whose language the table lacks raises :class:`ConfigError`.
        """
        table: dict[str, Sequence[str]] = dict(DEFAULT_RESOURCES)
        table.update({k: tuple(v) for k, v in (overrides or {}).items()})
        if locale is not None:
            locale = _known_spelling(locale, table, "crisis_locale")
        return cls(resources=table, locale=locale)

    def for_locale(self, locale: str | None) -> CrisisTable:
        """The table with one user's ``locale`` (``en-GB``) in place of the deployment's.

        None keeps the deployment's. A locale whose language the table lacks raises
        :class:`InputError`: the user is told which locales have resources.
        """
        if locale is None:
            return self
        return replace(self, locale=_known_spelling(locale, self.resources, "locale"))

    @property
    def language(self) -> str:
        """The language of :attr:`locale` (``en`` without one, or for another language)."""
        lang = (self.locale or "en").split("-")[0]
        return lang if lang in LANGUAGES else "en"

    def language_of(self, text: str, recent: Sequence[str] = ()) -> str:
        """The language to care for ``text`` in, one of :data:`LANGUAGES`.

        The message's when it tells (:func:`telling_language`), else that of the latest of
        the user's ``recent`` messages (oldest first) that tells, else the locale's. Han
        too short to tell is Chinese unless the locale is Japanese (never English).
        """
        told = telling_language(text)
        if told is None:
            told = next((t for t in map(telling_language, reversed(recent)) if t), None)
        if told is not None:
            return told
        if detect_language(text[:LANGUAGE_CHARS]) == "zh" and self.language != "ja":
            return "zh"
        return self.language

    def for_language(self, language: str) -> tuple[str, ...]:
        """The resources for a message in ``language``: the locale's, else the language's.

        Another language (``und``: no letters) gets those of the locale's language.
        """
        lang = language if language in LANGUAGES else self.language
        if self.locale and self.locale.split("-")[0] == lang and self.locale in self.resources:
            return tuple(self.resources[self.locale])
        return tuple(self.resources.get(lang) or self.resources.get("en") or ())


def _known_spelling(locale: str, table: Mapping[str, Sequence[str]], name: str) -> str:
    """``locale`` as the table spells it (``en-gb``: ``en-GB``), or in BCP 47 form.

    ``name``: what set it, the ``crisis_locale`` setting (a :class:`ConfigError` if its
    language has no resources) or a user's ``locale`` (an :class:`InputError`).
    """
    wanted = locale.strip().replace("_", "-")
    by_lower = {key.lower(): key for key in table}
    if wanted.lower() in by_lower:
        return by_lower[wanted.lower()]
    language = wanted.split("-")[0].lower()
    if language not in by_lower:
        known = ", ".join(sorted(table))
        if name != "crisis_locale":
            raise InputError(
                f"{name} {locale!r}: no crisis resources for its language. Use one of "
                f"{known}, or leave it out (the operator can add it with crisis_resources)."
            )
        raise ConfigError(
            f"crisis_locale {locale!r}: no crisis resources for its language. Use one of "
            f"{known}, or add it with crisis_resources (e.g. {{'{wanted}': ['...']}})."
        )
    region = wanted.split("-", 1)[1].upper() if "-" in wanted else ""
    return f"{language}-{region}" if region else language


def crisis_instructions(resources: Sequence[str]) -> str:
    """What the generation prompt gains when a message is flagged ``self_harm``."""
    return _INSTRUCTIONS.format(resources="; ".join(resources) or "local emergency services")


def someone_at_risk_instructions(resources: Sequence[str]) -> str:
    """What the generation prompt gains when the writer tells of someone else at risk."""
    return _OTHERS_INSTRUCTIONS.format(resources="; ".join(resources) or "local emergency services")


def crisis_footer(
    reply: str, language: str, resources: Sequence[str], *, someone: bool = False
) -> str | None:
    """The closing lines with the resources, or None when the reply already names one.

    ``someone``: the writer told of someone else at risk (the lead speaks to a helper).
    """
    if not resources:
        return None
    for item in resources:
        contact = item.split("：")[-1].split(": ")[-1].split("（")[0].split(" (")[0].strip()
        if contact and contact in reply:
            return None
    leads = _OTHERS_LEADS if someone else _LEADS
    lead = leads.get(language, leads["en"])
    return "\n\n" + lead + "\n" + "\n".join(f"- {item}" for item in resources)
