"""Read-only access to the devices: what ``status`` and ``verify`` read, over the providers' connections.

Outside the pure core (which never touches a device): this layer opens a router's API
through :class:`providers.vyos.Router` and a host's SSH through
:class:`providers.host.Host`, so TLS and host keys are verified exactly as an apply
verifies them, asks the questions of :mod:`fabric.health.parse`, and hands the answers
back to the core's parsers and checks. ``fabric/__main__.py`` wires its commands into
the CLI; the post-``up`` check (:mod:`fabric.components.verify`) uses its reader.
"""
