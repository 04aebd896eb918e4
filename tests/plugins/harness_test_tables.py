"""A system that takes a table of experts from harness.toml (``[systems.tabled.experts.NAME]``),
as issue 14's orchestrator will: for tests of nested option tables (loaded with -p)."""

from __future__ import annotations

from typing import Any, ClassVar

from harness import Answer, ConfigError, Sample, SampleContext, System, hookimpl


class Tabled(System):
    name: ClassVar[str] = "tabled"
    kinds = frozenset({"code"})
    roles: ClassVar[tuple[str, ...]] = ()
    option_tables = frozenset({"experts"})

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        unknown = set(options) - {"experts", "note"}
        if unknown:
            raise ConfigError(f"system tabled: unknown option(s) {sorted(unknown)}; known: experts, note")
        experts = options.get("experts", {})
        if not isinstance(experts, dict) or not all(isinstance(e, dict) and "backend" in e for e in experts.values()):
            raise ConfigError("system tabled: experts must be [systems.tabled.experts.NAME] tables, each with backend = SPEC")
        self.experts = experts

    async def solve(self, sample: Sample, ctx: SampleContext) -> Answer:
        return Answer("", {"experts": sorted(self.experts)})


@hookimpl
def harness_add_systems() -> list[type]:
    return [Tabled]
