"""Undo the usual obfuscations before anything is matched or scored.

:func:`normalize` folds case and width (NFKC), removes zero-width and soft-hyphen
characters, maps look-alike letters (Cyrillic and Greek homoglyphs) and leetspeak inside
words to Latin letters, joins letters spaced or dotted apart ("k i l l", "s.u.i.c.i.d.e";
a wider gap between them parts words: "t o  d i e" is "to die") and spaces inserted
between CJK characters. :func:`decoded_fragments` finds base64 and
rot13 text and returns what it decodes to, so a hidden request is checked as well.
All of it is linear in the length of the text and runs in well under a millisecond.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

#: Longest text examined; longer text keeps its head and its tail.
MAX_CHARS = 1_200
_HEAD = 900
_T = TypeVar("_T")

_INVISIBLE = dict.fromkeys(
    [
        *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0),
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
        *range(0xFE00, 0xFE10),
    ]
)
_HOMOGLYPHS = str.maketrans(
    "асеіјоорѕхуԁһкмнтвɡіӏαβεικνορτυχωзлпгդ",
    "aceijoopsxydhkmhtbgilabeikvoptuxwэлпгd",
)
#: Small-capital letters ("ꜱʏꜱᴛᴇᴍ ᴜᴘᴅᴀᴛᴇ"), always a trick: no language is written in them.
_SMALL_CAPS = str.maketrans("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnopqrstuvwyz")
_LEET_CHARS = "013457@$!|+"
_LEET = str.maketrans(_LEET_CHARS, "oieastasiit")
# Not inside chat-template markers ("<|im_start|>"), which the rules look for as they are.
_LEET_WORD = re.compile(
    r"(?<![\w$@<|])(?=[\w$@!|+]*[a-z])(?=[\w$@!|+]*[013457@$!|+])[a-z013457@$!|+]{2,}(?![>|])"
)
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*/·]{1,3}){2,}[a-z]\b")
_CJK_SPACED = re.compile(
    r"(?<=[\u3040-\u30ff\u3400-\u9fff])[ \t*.\-_·]+(?=[\u3040-\u30ff\u3400-\u9fff])"
)
_SPACE = re.compile(r"[ \t\r\f\v]+")
_REPEAT = re.compile(r"(.)\1{3,}")
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_WORDS = re.compile(r"[a-z]+")
_COMMON = frozenset(
    {
        "the",
        "a",
        "an",
        "to",
        "of",
        "and",
        "in",
        "is",
        "you",
        "your",
        "i",
        "me",
        "my",
        "it",
        "how",
        "what",
        "do",
        "can",
        "for",
        "with",
        "on",
        "be",
        "this",
        "that",
        "are",
        "not",
        "make",
        "tell",
        "give",
        "ignore",
        "all",
        "instructions",
        "kill",
        "why",
        "who",
        "want",
        "please",
        "write",
        "someone",
        "people",
        "way",
        "ways",
        "without",
        "get",
        "use",
        "using",
        "from",
        "have",
        "will",
        "would",
        "should",
    }
)


@dataclass(frozen=True, kw_only=True)
class Normalized:
    """A text made comparable, and what was hidden in it."""

    text: str
    """The normalised text (lower case, de-obfuscated)."""
    hidden: tuple[str, ...] = ()
    """Decoded base64 / rot13 fragments, normalised too."""
    obfuscated: bool = False
    """Whether anything was undone besides case, width and spacing."""

    @property
    def full(self) -> str:
        """The text followed by every hidden fragment."""
        return " \n".join((self.text, *self.hidden)) if self.hidden else self.text


def clip(text: str) -> str:
    """The text, or its head and tail when it is longer than ``MAX_CHARS``."""
    if len(text) <= MAX_CHARS:
        return text
    return f"{text[:_HEAD]}\n{text[-(MAX_CHARS - _HEAD) :]}"


def unread_parts(text: str, *, most: int) -> list[str]:
    """Windows of ``MAX_CHARS`` over the middle of a text that :func:`clip` leaves out.

    Every window is ``MAX_CHARS`` long (the last one ends where the read tail begins), so
    it reads like a whole message; at most ``most`` of them, spread evenly over the middle
    when it holds more. None for a text short enough to be read whole.
    """
    if len(text) <= MAX_CHARS:
        return []
    end = len(text) - (MAX_CHARS - _HEAD)
    starts = [max(0, min(s, end - MAX_CHARS)) for s in range(_HEAD, end, MAX_CHARS)]
    return [text[s : s + MAX_CHARS] for s in spread(starts, most)]


def spread(items: Sequence[_T], most: int) -> list[_T]:
    """``items``, or ``most`` of them evenly spread when there are more."""
    if len(items) <= most:
        return list(items)
    step = len(items) / most
    return [items[int(i * step)] for i in range(most)]


def _unleet(match: re.Match[str]) -> str:
    """Leetspeak back to letters where a word has it inside.

    ``k1ll`` and ``1gn0re`` are words in disguise, and so is ``t0`` (one letter and a
    digit); ``hi!``, ``mp3``, ``4pm`` and ``@john`` are not (a mark or a number at a
    word's edge is punctuation), and a closing ``!`` stays one (``k1ll!`` is ``kill!``).
    """
    word = match.group(0)
    start = len(word) - len(word.lstrip(_LEET_CHARS))
    end = len(word.rstrip(_LEET_CHARS))
    if any(c in _LEET_CHARS for c in word[start:end]):
        kept = len(word) - len(word.rstrip("!"))
        return word[: len(word) - kept].translate(_LEET) + word[len(word) - kept :]
    if start == 0 and end == 1 and word[end:].isdigit():
        return word.translate(_LEET)
    return word


def _join_letters(match: re.Match[str]) -> str:
    """Join spaced letters: ``k i l l`` is ``kill``; ``k.i.l.l m.e`` is ``kill me``.

    A wider gap parts words as a space does: ``t o  d i e`` is ``to die``.
    """
    run = match.group(0)
    if re.search(r"[.\-_*/·]", run):
        return re.sub(r"[.\-_*/·]", "", re.sub(r" +", " ", run))
    return " ".join(word.replace(" ", "") for word in re.split(r" {2,}", run))


def _fold(text: str) -> tuple[str, bool]:
    """Case, width, invisibles, homoglyphs, leetspeak and spaced letters."""
    raw = unicodedata.normalize("NFKC", text)
    cleaned = raw.translate(_INVISIBLE)
    tricks = cleaned != raw
    # Turkish dotted and dotless i: "İ" lowers to "i" and a combining dot, which parts the
    # word ("i̇gnore" read as "i" "gnore"); "ı" is an i to every rule. Letters of a
    # language, not a trick.
    lowered = cleaned.lower().replace("i\u0307", "i").replace("ı", "i")
    capped = lowered.translate(_SMALL_CAPS)
    tricks |= capped != lowered
    lowered = capped
    mapped = lowered.translate(_HOMOGLYPHS)
    tricks |= mapped != lowered and bool(re.search(r"[a-z]", lowered))
    if not re.search(r"[a-z]", lowered):
        mapped = lowered  # all-Cyrillic or all-Greek text is a language, not a trick
    leet = _LEET_WORD.sub(_unleet, mapped)
    tricks |= leet != mapped
    joined = _SPACED.sub(_join_letters, leet)
    tricks |= joined != leet
    joined = _CJK_SPACED.sub("", joined)
    joined = _REPEAT.sub(r"\1\1\1", joined)
    return _SPACE.sub(" ", joined).strip(), tricks


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    shown = sum(ch.isprintable() or ch.isspace() for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    if shown < 0.95 * len(text) or letters < 0.5 * len(text.replace(" ", "")):
        return None
    return text


def decoded_fragments(text: str) -> list[str]:
    """Readable text hidden as base64 runs, or the whole text as rot13."""
    found: list[str] = []
    for match in _B64.finditer(text):
        chunk = match.group(0)
        if chunk.isalpha() and (chunk.islower() or chunk.isupper()):
            continue  # a long plain word, not an encoding
        try:
            data = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = _printable(data)
        if decoded and len(decoded) >= 8:
            found.append(decoded)
    words = _WORDS.findall(text.lower())
    if len(words) >= 3:
        known = sum(w in _COMMON for w in words)
        rotated = codecs.decode(text, "rot13")
        rwords = _WORDS.findall(rotated.lower())
        if sum(w in _COMMON for w in rwords) >= max(2, 2 * known + 1):
            found.append(rotated)
    return found


def normalize(text: str) -> Normalized:
    """Normalise ``text`` and decode what it hides (see the module docs)."""
    clipped = clip(text)
    folded, tricks = _fold(clipped)
    hidden = tuple(_fold(fragment)[0] for fragment in decoded_fragments(clipped))
    return Normalized(text=folded, hidden=hidden, obfuscated=tricks or bool(hidden))
