"""Voice: language routing, text-to-speech, speech-to-text, and the sentence splitter.

- :func:`detect_language`, :func:`segment`: which language text is in, and a reply cut
  into runs of one language each.
- :class:`TTSEngine` (one async generator, text to :class:`AudioChunk`), registered by
  plugins through ``register_tts_engines(register)``; :class:`TTSChain` routes each
  segment to the first engine able to speak it and falls back on failure.
- :class:`VoiceService` (``Services.voice``): the chain and the transcriber of a process.
- :class:`SentenceSplitter`: complete sentences out of a token stream (:class:`Split`:
  one, or a piece of one cut at its length limit).
"""

from miolumi.core.voice.audio import AudioChunk
from miolumi.core.voice.chain import SpeechFailure, SpeechItem, Spoken, TTSChain
from miolumi.core.voice.engine import EngineInfo, EngineSpec, TTSEngine, VoiceInfo, VoiceSpec
from miolumi.core.voice.language import Segment, detect_language, segment
from miolumi.core.voice.service import Speech, VoiceService
from miolumi.core.voice.splitter import SentenceSplitter, Split
from miolumi.core.voice.stt import Transcript
from miolumi.core.voice.voices import VoicePlan, VoiceProfile

__all__ = [
    "AudioChunk",
    "EngineInfo",
    "EngineSpec",
    "Segment",
    "SentenceSplitter",
    "Speech",
    "SpeechFailure",
    "SpeechItem",
    "Split",
    "Spoken",
    "TTSChain",
    "TTSEngine",
    "Transcript",
    "VoiceInfo",
    "VoicePlan",
    "VoiceProfile",
    "VoiceService",
    "VoiceSpec",
    "detect_language",
    "segment",
]
