"""Speak a mixed-language reply offline: each run of one language goes to a voice that reads it.

Run it with ``python examples/speak.py`` (needs ``pip install 'miolumi[voice]'``); it writes
``mixed.wav`` and prints which engine spoke which language.
"""

import asyncio
from pathlib import Path

from miolumi.core.voice import segment
from miolumi.core.voice.audio import to_wav
from miolumi.services import Services


async def main() -> None:
    text = "Say 你好 to Mio, she is learning Chinese. 我今天用 Python 写代码。"
    print([(s.language, s.text) for s in segment(text)])
    voice = Services.create().voice
    speech = await voice.synthesize(text)
    Path("mixed.wav").write_bytes(to_wav(speech.audio))
    print(f"{speech.audio.duration:.1f} s of audio by {', '.join(speech.engines)}")


if __name__ == "__main__":
    asyncio.run(main())
