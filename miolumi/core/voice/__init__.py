"""Voice: language routing, text-to-speech, speech-to-text, and the sentence splitter."""

from miolumi.core.voice.splitter import SentenceSplitter

__all__ = ["SentenceSplitter"]
