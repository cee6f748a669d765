"""``python -m fabric``: the CLI (:mod:`fabric.cli`) with the commands that read devices
(:mod:`fabric.devices.commands`), wired here, outside the pure core."""

from fabric.cli import main
from fabric.devices.commands import add_parsers

raise SystemExit(main(extra=[add_parsers]))
