"""Renderers: plan -> device configuration as data (VyOS paths, host files)."""
