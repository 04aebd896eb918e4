"""Internal: the `harness` command line. Each module adds one command group through
`harness_add_commands` and is listed in `harness.plugins.BUILTIN_PLUGINS`."""
