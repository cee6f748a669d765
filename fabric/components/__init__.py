"""The Pulumi side: reading stack config and (next) ComponentResources over the core's plan."""
