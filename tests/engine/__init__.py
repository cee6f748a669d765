"""The real Pulumi engine: the CLI on a copy of the project with a local (or S3) backend."""
