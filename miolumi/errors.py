"""Domain errors, each with a message that names the fix.

Only the CLI and the server turn these into exit codes or error frames; the
library raises them and lets them travel.
"""

from __future__ import annotations


class MiolumiError(Exception):
    """Base of every error miolumi raises on purpose.

    ``str(error)`` is one line meant for the user: what went wrong and how to fix it.
    """


class ConfigError(MiolumiError):
    """The configuration (environment, TOML file) is invalid."""


class PluginError(MiolumiError):
    """A plugin failed to load or registered something invalid."""


class ModelError(MiolumiError):
    """Base of errors about the chat model."""


class ModelNotConfiguredError(ModelError):
    """No provider can serve the requested model."""


class ModelUnavailableError(ModelError):
    """The model endpoint cannot be reached."""


class ModelAuthError(ModelError):
    """The model endpoint rejected the credentials."""


class ModelRequestError(ModelError):
    """The model endpoint refused the request (bad model name, bad parameters)."""


class InputError(MiolumiError):
    """A user message cannot be used as it is."""


class EmptyMessageError(InputError):
    """The message is empty or only white space."""

    def __init__(self) -> None:
        super().__init__("The message is empty: type something to say, or /help for commands.")


class MessageTooLongError(InputError):
    """The message exceeds the configured size limit."""

    def __init__(self, *, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(
            f"The message is {length:,} characters long; the limit is {limit:,}. "
            "Send a shorter message, or raise MIOLUMI_MAX_MESSAGE_CHARS."
        )


class UnknownPersonaError(MiolumiError):
    """No persona has the requested id."""

    def __init__(self, persona: str, known: list[str]) -> None:
        self.persona = persona
        self.known = known
        choices = ", ".join(sorted(known)) or "none"
        super().__init__(f"Unknown persona {persona!r}: choose one of {choices}.")


class StorageError(MiolumiError):
    """A database or store cannot be opened or written."""


class ThreadOwnershipError(MiolumiError):
    """A thread id is used by someone it does not belong to."""


class ConversationNotFoundError(MiolumiError):
    """No conversation with that id belongs to the user asking."""


class ThreadBusyError(MiolumiError):
    """Another turn is running on the same thread (in this process or another)."""


class AgeConfirmationError(MiolumiError):
    """An adult confirmation cannot be recorded (the user said they are a minor)."""


class CardError(MiolumiError):
    """A character card (JSON or PNG) cannot be read or converted."""


class PersonaExistsError(MiolumiError):
    """An imported persona would take an id that is already in use."""


class BudgetExceededError(MiolumiError):
    """A paid call was refused because it would cross a spending cap."""

    def __init__(self, *, cap: str, spent: str, limit: str, setting: str) -> None:
        self.cap = cap
        self.spent = spent
        self.limit = limit
        self.setting = setting
        super().__init__(
            f"The {cap} budget is spent (${spent} of ${limit} used or in flight): "
            f"wait for the next period (UTC), or raise {setting}."
        )


class LedgerError(StorageError):
    """The usage ledger cannot record calls; paid calls are refused until it can."""


class EmotionModelError(MiolumiError):
    """The emotion classifier's shipped weights are missing or unreadable."""


class SeedExtractionError(MiolumiError):
    """A personality seed could not be extracted (the model's answer was unusable)."""


class SnapshotNotFoundError(MiolumiError):
    """A requested Lumi personality snapshot or seed does not exist."""


class MemoriesError(MiolumiError):
    """Base of errors about stored memories."""


class MemoryInputError(MemoriesError, InputError):
    """A memory (text, metadata, id, dump) cannot be stored as it is."""


class MemoryNotFoundError(MemoriesError):
    """No memory has the requested id in the requested scope."""

    def __init__(self, memory_id: str) -> None:
        self.memory_id = memory_id
        super().__init__(
            f"No memory {memory_id!r} for this user and persona: list the ids with "
            "`miolumi memory list --user ID [--persona NAME]`."
        )


class MemoryStoreError(MemoriesError, StorageError):
    """The memory store (Chroma directory or server) cannot be opened, read or written.

    ``stored`` holds the ids already written when a bulk write failed part-way, so
    nothing is reported as stored that is not, and nothing stored goes unreported.
    """

    def __init__(self, message: str, *, stored: list[str] | None = None) -> None:
        self.stored = list(stored or [])
        super().__init__(message)


class EmbeddingError(MemoriesError):
    """Texts cannot be embedded (model missing, endpoint unreachable)."""


class GuardModelError(MiolumiError):
    """The guardrails' classifier weights are missing or unreadable."""


class GuardPolicyError(ConfigError):
    """A guardrails policy or crisis-resource table in the configuration is invalid."""


class VoiceError(MiolumiError):
    """Base of errors about speech (text-to-speech and speech-to-text)."""


class VoiceUnavailableError(VoiceError):
    """No engine can speak (or transcribe) this: an extra to install or a setting to set."""


class SpeechFailedError(VoiceError):
    """Every engine able to speak (or transcribe) something failed."""


class AudioInputError(VoiceError, InputError):
    """Audio given for transcription cannot be read."""


class AuthError(MiolumiError):
    """A server request carries no valid token, or one that may not do this."""


class RateLimitedError(MiolumiError):
    """A user sent more requests than the server's rate limit allows."""

    def __init__(self, *, limit: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many requests (limit {limit}): wait {retry_after:.0f} s and try again, "
            "or ask the operator to raise MIOLUMI_RATE_LIMIT."
        )
