"""Which language a message is in, from its scripts: cheap enough for every message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Language = Literal["en", "zh", "ja", "und"]
"""``en`` stands for every Latin-script text; ``und`` is text without letters (emoji only)."""


@dataclass(frozen=True, kw_only=True)
class ScriptMix:
    """Letters of a text counted per script."""

    latin: int = 0
    han: int = 0
    kana: int = 0
    other: int = 0

    @property
    def letters(self) -> int:
        """All letters counted."""
        return self.latin + self.han + self.kana + self.other


def scripts(text: str, *, limit: int = 2_000) -> ScriptMix:
    """Count the letters of the first ``limit`` characters by script."""
    latin = han = kana = other = 0
    for char in text[:limit]:
        code = ord(char)
        if code < 0x80:
            if char.isalpha():
                latin += 1
        elif 0x3040 <= code <= 0x30FF or 0xFF66 <= code <= 0xFF9F:
            kana += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            han += 1
        elif char.isalpha():
            if code < 0x250:
                latin += 1
            else:
                other += 1
    return ScriptMix(latin=latin, han=han, kana=kana, other=other)


def detect_language(text: str) -> Language:
    """The language of ``text``: kana makes it Japanese, Han without kana Chinese."""
    mix = scripts(text)
    if not mix.letters:
        return "und"
    cjk = mix.han + mix.kana
    if mix.kana and mix.kana * 5 >= cjk:
        return "ja"
    if cjk * 2 >= mix.latin and mix.han:
        return "ja" if mix.kana else "zh"
    return "en"
