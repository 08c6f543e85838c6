"""Built-in TTS engines; each module has ``create(settings)`` and imports its library lazily."""
