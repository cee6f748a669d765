"""Dynamic providers: they only make a device look like the rendered state (keys, router config, host state)."""
