"""Unit tests: the pure core, golden files, error cases, properties, and the program under Pulumi's mocks; no device, no engine."""
