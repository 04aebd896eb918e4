"""Plugin discovery (entry-point group ``harness``, ``-p``) and the registries built from it."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from harness import __version__, hookspecs
from harness.errors import PluginError, UsageError

ENTRY_POINT_GROUP = "harness"
#: The plugins that ship inside mas-harness, registered before any entry point (pytest's
#: ``default_plugins`` is the model): name -> module, or ``module:Class`` for a plugin object
#: made with no arguments. ``-p no:NAME`` leaves any of them out.
BUILTIN_PLUGINS = {
    "runs": "harness.cli.runs",
    "run-list": "harness.cli.runlist",
    "sandbox-commands": "harness.cli.sandbox",
    "results": "harness.cli.results",
    "scoring": "harness.cli.scoring",
    "exporters": "harness.results.exporters",
    "subruns": "harness.engine.subrun",
    "terminal": "harness.cli.progress:TerminalReporter",
}
KINDS = ("backends", "systems", "tasks", "sandboxes", "exporters")
#: One of each kind, for messages ("unknown sandbox 'x'").
SINGULAR = {"backends": "backend", "systems": "system", "tasks": "task", "sandboxes": "sandbox", "exporters": "exporter"}
#: The attribute that names a registered class, per kind.
NAME_ATTRIBUTE = {"backends": "scheme", "systems": "name", "tasks": "name", "sandboxes": "name", "exporters": "name"}


@dataclass
class PluginInfo:
    name: str  # entry-point name, or the import name given to -p
    module: str
    distribution: str | None = None
    version: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)  # kind -> names

    @property
    def origin(self) -> str:
        if self.distribution:
            return f"{self.distribution} {self.version}"
        return f"module {self.module} (no distribution)"


@dataclass
class Registered:
    cls: type
    plugin: PluginInfo


class Plugins:
    """The plugin manager plus what each plugin registered, by kind and name."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo]) -> None:
        self.pm = pm
        self.hook = pm.hook
        self.infos = infos
        self.registry: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
        for kind in KINDS:
            self._collect(kind)

    def _collect(self, kind: str) -> None:
        caller = getattr(self.pm.hook, f"harness_add_{kind}")
        attribute = NAME_ATTRIBUTE[kind]
        for impl in reversed(caller.get_hookimpls()):  # registration order
            info = self.infos[impl.plugin_name]
            for cls in impl.function() or []:
                name = getattr(cls, attribute, None)
                if not name:
                    raise PluginError(f"plugin {info.name!r} ({info.origin}) registers {cls!r} without a {attribute!r}")
                missing = sorted(getattr(cls, "__abstractmethods__", ())) + list(getattr(cls, "unimplemented", list)())
                if missing:
                    raise PluginError(
                        f"plugin {info.name!r} ({info.origin}) registers {SINGULAR[kind]} {name!r} ({cls.__qualname__}) "
                        f"without implementing {', '.join(missing)}. Implement them, or disable the plugin with -p no:{info.name}."
                    )
                taken = self.registry[kind].get(name)
                if taken is not None and taken.cls is not cls:
                    raise PluginError(
                        f"{SINGULAR[kind]} {name!r} is registered twice: by plugin {taken.plugin.name!r} "
                        f"({taken.plugin.origin}) and by plugin {info.name!r} ({info.origin}). "
                        f"Uninstall one of them or disable it with -p no:NAME."
                    )
                self.registry[kind][name] = Registered(cls, info)
                info.registered.setdefault(kind, []).append(name)

    def get(self, kind: str, name: str) -> type:
        try:
            return self.registry[kind][name].cls
        except KeyError:
            known = ", ".join(sorted(self.registry[kind])) or "none"
            singular = SINGULAR[kind]
            raise UsageError(
                f"unknown {singular} {name!r}. Known {kind}: {known}. "
                f"Install the plugin that provides it, or check `harness plugins`."
            ) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.registry[kind])

    def versions(self) -> dict[str, str]:
        """Plugin name -> version (or module) for run.json."""
        return {info.name: info.version or info.module for info in self.infos.values()}


def _register(pm: pluggy.PluginManager, infos: dict[str, PluginInfo], plugin: Any, info: PluginInfo) -> None:
    existing = infos.get(info.name)
    if existing is not None:
        raise PluginError(
            f"two plugins are named {info.name!r}: {existing.origin} and {info.origin}. "
            f"Uninstall one, or disable one with -p no:{info.name}."
        )
    pm.register(plugin, name=info.name)
    infos[info.name] = info


def _builtin(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)() if attribute else module


def load_plugins(extra: Iterable[str] = (), blocked: Iterable[str] = ()) -> Plugins:
    """Register the built-in plugins (BUILTIN_PLUGINS), every entry-point plugin, then the modules
    named with -p; any of them named in ``blocked`` (-p no:NAME) is left out."""
    blocked = set(blocked)
    pm = pluggy.PluginManager("harness")
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    for name, target in BUILTIN_PLUGINS.items():
        if name not in blocked:
            _register(pm, infos, _builtin(target), PluginInfo(name, target.partition(":")[0], "mas-harness", __version__))
    seen: set[tuple[str, str]] = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else None
        if ep.name in blocked or ep.value in blocked or (ep.name, ep.value) in seen:
            continue
        seen.add((ep.name, ep.value))
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must say which one it is
            raise PluginError(f"plugin {ep.name!r} from {dist} failed to load: {exc!r}. Fix or uninstall it, or run with -p no:{ep.name}.") from exc
        info = PluginInfo(ep.name, ep.value, dist, ep.dist.version if ep.dist else None)
        _register(pm, infos, plugin, info)
    for name in extra:
        if name in blocked or name in infos or any(i.module == name for i in infos.values()):
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise PluginError(f"-p {name}: cannot import module {name!r} ({exc}). Give an importable module name.") from exc
        _register(pm, infos, module, PluginInfo(name, name))
    return Plugins(pm, infos)
