"""Built-in plugins shipped inside the wheel as ``miolumi.builtin_plugins``."""
