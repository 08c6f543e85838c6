"""The plugin manager: built-in plugins, entry-point plugins, loaded once and lazily.

Environment (through :class:`miolumi.config.Settings`):

- ``MIOLUMI_LOAD_PLUGINS``: comma-separated entry-point names to load; empty loads
  no third-party plugin. Unset loads all of them.
- ``MIOLUMI_TRACE_PLUGINS=1``: log every hook call and its result to stderr.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy
from pluggy import HookImpl, Result

from miolumi import hookspecs
from miolumi.config import Settings, get_settings

ENTRY_POINT_GROUP = "miolumi"

#: Modules registered on every plugin manager, in this order.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "miolumi.core.models.openai_compat",
    "miolumi.core.models.local",
    "miolumi.builtin_plugins.presets",
    "miolumi.core.voice.engines.builtin",
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginFailure:
    """A third-party plugin that could not be loaded, and why."""

    name: str
    error: str


@dataclass
class Plugins:
    """A plugin manager and what happened while loading it."""

    manager: pluggy.PluginManager
    failures: list[PluginFailure] = field(default_factory=list)

    @property
    def hook(self) -> Any:
        """The manager's hook relay: ``plugins.hook.register_personas(register=...)``."""
        return self.manager.hook

    def names(self) -> list[str]:
        """Names of the registered plugins, built-in first."""
        return [name for name, _ in self.manager.list_name_plugin()]

    def implementers(self, hook_name: str) -> list[str]:
        """Names of the plugins implementing ``hook_name``, in the order pluggy calls them."""
        caller = getattr(self.manager.hook, hook_name)
        impls = [i for i in caller.get_hookimpls() if not (i.wrapper or i.hookwrapper)]
        return [i.plugin_name for i in reversed(impls)]

    def call_one(self, hook_name: str, plugin_name: str, **kwargs: Any) -> list[Any]:
        """Call ``hook_name`` on one plugin only, so its failure can be reported by name."""
        others = [p for n, p in self.manager.list_name_plugin() if n != plugin_name]
        caller = self.manager.subset_hook_caller(hook_name, remove_plugins=others)
        results: list[Any] = caller(**kwargs)
        return results


def load_plugins(settings: Settings | None = None, *, entrypoints: bool = True) -> Plugins:
    """Build a plugin manager with the built-in plugins and, optionally, entry points.

    Third-party plugins that fail to import are recorded in ``failures`` and logged;
    they never stop the built-in ones from loading.
    """
    settings = settings or get_settings()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    plugins = Plugins(manager=pm)
    if entrypoints:
        _load_entrypoints(pm, settings, plugins.failures)
    if settings.trace_plugins:
        _enable_tracing(pm)
    return plugins


def _load_entrypoints(
    pm: pluggy.PluginManager, settings: Settings, failures: list[PluginFailure]
) -> None:
    allowed: set[str] | None = None
    if settings.load_plugins is not None:
        allowed = {n.strip() for n in settings.load_plugins.split(",") if n.strip()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the others down
            message = f"{type(exc).__name__}: {exc}"
            failures.append(PluginFailure(name=ep.name, error=message))
            log.warning("Plugin %r failed to load (%s); it is skipped.", ep.name, message)


def _enable_tracing(pm: pluggy.PluginManager) -> None:
    def before(hook_name: str, hook_impls: Sequence[HookImpl], kwargs: Mapping[str, Any]) -> None:
        names = [impl.plugin_name for impl in hook_impls]
        print(f"[miolumi hook] {hook_name} -> {names}", file=sys.stderr)

    def after(
        outcome: Result[Any],
        hook_name: str,
        hook_impls: Sequence[HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        print(f"[miolumi hook] {hook_name} done", file=sys.stderr)

    pm.add_hookcall_monitoring(before, after)


_lock = threading.Lock()
_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """Return the process-wide plugins, loading them on first use."""
    global _plugins
    with _lock:
        if _plugins is None:
            _plugins = load_plugins()
        return _plugins
