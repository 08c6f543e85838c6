"""Which language a piece of text is in, and a reply cut into runs of one language each.

Scripts decide first: kana makes Japanese, Han without kana Chinese (Han inside a
Japanese reply stays Japanese), Hangul Korean. Latin text goes to
``lingua-language-detector``, restricted to :data:`LATIN_LANGUAGES` (or to the languages
asked for), with one detector built lazily per set of languages and kept.

A reply can switch language inside a sentence ("我今天用 Python 写代码"): :func:`segment`
returns its runs, so that every run can be spoken by a voice that reads that language.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from lingua import LanguageDetector

LATIN_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt")
"""Latin-script languages told apart by default (ISO 639-1)."""
UNDETERMINED = "und"
"""The language of text without letters (emoji, digits, punctuation only)."""
SHORT_RUN_WORDS = 4
"""A Latin run with fewer words than this takes the reply's Latin language (too short to
detect on its own)."""

Script = Literal["latin", "han", "kana", "hangul", "other", "neutral"]


def script_of(char: str) -> Script:
    """The script of one character; digits, spaces, punctuation and emoji are ``neutral``."""
    code = ord(char)
    if code < 0x80:
        return "latin" if char.isalpha() else "neutral"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
        return "kana" if char not in "・ー゠" or code == 0x30FC else "neutral"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return "han"
    if 0x20000 <= code <= 0x2FA1F or code == 0x3005:  # rare Han, and 々
        return "han"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if char.isalpha():
        return "latin" if code < 0x250 or 0x1E00 <= code <= 0x1EFF else "other"
    return "neutral"


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of a reply in one language."""

    language: str
    text: str


_detectors: dict[tuple[str, ...], LanguageDetector] = {}
_detectors_lock = threading.Lock()


def _detector(languages: tuple[str, ...]) -> LanguageDetector:
    """A lingua detector for ``languages``, built once per set."""
    with _detectors_lock:
        found = _detectors.get(languages)
        if found is None:
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

            chosen = [
                Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                for code in languages
            ]
            found = LanguageDetectorBuilder.from_languages(*chosen).build()
            _detectors[languages] = found
        return found


def _latin_languages(languages: Iterable[str] | None) -> tuple[str, ...]:
    if languages is None:
        return LATIN_LANGUAGES
    chosen = tuple(sorted({code for code in languages if code in LATIN_LANGUAGES}))
    return chosen or ("en",)


def detect_latin(text: str, *, languages: Iterable[str] | None = None) -> str:
    """The language of Latin ``text`` among ``languages`` (default :data:`LATIN_LANGUAGES`)."""
    chosen = _latin_languages(languages)
    if len(chosen) == 1:
        return chosen[0]
    found = _detector(chosen).detect_language_of(text)
    if found is None:
        return chosen[0] if "en" not in chosen else "en"
    return str(found.iso_code_639_1.name).lower()


def detect_language(text: str, *, languages: Iterable[str] | None = None) -> str:
    """The main language of ``text`` as an ISO 639-1 code, or ``und`` without letters.

    Japanese when kana make up a fifth of the CJK letters, Chinese for Han without kana,
    Korean for Hangul; Latin text is told apart among ``languages`` (the Latin-script
    ones of :data:`LATIN_LANGUAGES` by default) by lingua.
    """
    counts = {"latin": 0, "han": 0, "kana": 0, "hangul": 0, "other": 0}
    for char in text[:2000]:
        script = script_of(char)
        if script != "neutral":
            counts[script] += 1
    if not any(counts.values()):
        return UNDETERMINED
    cjk = counts["han"] + counts["kana"]
    top = max(counts, key=lambda k: counts[k])
    if cjk and cjk >= counts["latin"] and cjk >= counts["hangul"]:
        return "ja" if counts["kana"] * 5 >= cjk else "zh"
    if top == "hangul":
        return "ko"
    if top == "other" or not counts["latin"]:
        return UNDETERMINED
    return detect_latin(text, languages=languages)


@dataclass(slots=True)
class _Run:
    kind: Literal["cjk", "latin", "hangul", "other", "neutral"]
    text: str
    kana: bool = False


def _runs(text: str) -> list[_Run]:
    """Cut ``text`` into runs of one script family; neutral characters form their own runs."""
    runs: list[_Run] = []
    for char in text:
        script = script_of(char)
        kind: Literal["cjk", "latin", "hangul", "other", "neutral"] = (
            "cjk" if script in ("han", "kana") else script  # type: ignore[assignment]
        )
        if runs and runs[-1].kind == kind:
            runs[-1].text += char
        else:
            runs.append(_Run(kind=kind, text=char))
        if script == "kana":
            runs[-1].kana = True
    return runs


def _attach_neutral(runs: list[_Run]) -> list[_Run]:
    """Give neutral runs (spaces, digits, punctuation) to a neighbouring letter run.

    Punctuation closes the run before it; a neutral run at the start opens the first one.
    Within one script family, runs separated only by neutral text join up.
    """
    merged: list[_Run] = []
    leading = ""
    for run in runs:
        if run.kind == "neutral":
            if merged:
                merged[-1].text += run.text
            else:
                leading += run.text
            continue
        if merged and merged[-1].kind == run.kind:
            merged[-1].text += run.text
            merged[-1].kana = merged[-1].kana or run.kana
            continue
        if leading:
            run = _Run(kind=run.kind, text=leading + run.text, kana=run.kana)
            leading = ""
        merged.append(run)
    if leading:
        merged.append(_Run(kind="neutral", text=leading))
    return merged


def segment(
    text: str, *, languages: Iterable[str] | None = None, default: str = "en"
) -> list[Segment]:
    """Cut a reply into consecutive runs of one language each, in order.

    Joining the texts of the segments gives back ``text``. Han runs are Japanese when the
    reply's CJK letters include kana, else Chinese. A Latin run of fewer than
    :data:`SHORT_RUN_WORDS` words takes the language detected over all the reply's Latin
    text (``Python`` inside a Chinese sentence is English; ``gracias`` inside a Spanish
    reply stays Spanish). Text without letters gets ``default``.
    """
    runs = _attach_neutral(_runs(text))
    cjk_text = "".join(r.text for r in runs if r.kind == "cjk")
    kana = sum(script_of(c) == "kana" for c in cjk_text)
    han = sum(script_of(c) == "han" for c in cjk_text)
    japanese = kana > 0 and kana * 8 >= han
    latin_text = " ".join(r.text for r in runs if r.kind == "latin")
    overall = detect_latin(latin_text, languages=languages) if latin_text.strip() else default
    segments: list[Segment] = []
    for run in runs:
        if run.kind == "cjk":
            language = "ja" if (run.kana or japanese) else "zh"
        elif run.kind == "latin":
            long_run = len(run.text.split()) >= SHORT_RUN_WORDS
            language = detect_latin(run.text, languages=languages) if long_run else overall
        elif run.kind == "hangul":
            language = "ko"
        elif run.kind == "other":
            language = detect_language(run.text)
            language = default if language == UNDETERMINED else language
        else:
            language = default
        if segments and segments[-1].language == language:
            segments[-1] = Segment(language, segments[-1].text + run.text)
        else:
            segments.append(Segment(language, run.text))
    return segments


def speakable(text: str) -> str:
    """``text`` without what no voice should read aloud (emoji, pictographs, symbols)."""
    kept = [
        char
        for char in text
        if not (unicodedata.category(char) in ("So", "Sk", "Cs", "Co") or char in "\ufe0f\u200d")
    ]
    return " ".join("".join(kept).split())
