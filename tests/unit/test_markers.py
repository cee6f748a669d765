"""Markers are filled only at the renderer's slots, one value per slot, and a plain input can
never stand in for a secret."""

from __future__ import annotations

import pytest

import markers
from providers.host import HostError, values_of
from providers.vyos import VyosConfigProvider


def test_overlapping_or_repeated_slots_are_refused() -> None:
    text = "<secret:a><secret:b>"
    with pytest.raises(markers.MarkerError, match="slots overlap"):
        markers.fill(text, ((0, "secret", "a"), (0, "secret", "a")), {"secret": {"a": "A", "b": "B"}})
    assert markers.fill(text, ((0, "secret", "a"), (10, "secret", "b")), {"secret": {"a": "A", "b": "B"}}) == "AB"


def test_a_secret_never_comes_from_the_late_input() -> None:
    """``late`` is a plain input: neither a file's late slots nor its values may name a secret."""
    with pytest.raises(markers.MarkerError, match="a secret among a file's late slots"):
        markers.slots_of({"late": [[0, "secret", "wireguard-private-key"]]})
    with pytest.raises(HostError, match="only public keys and endpoints"):
        values_of({"secrets": {"k": "real"}, "late": {"secret": {"k": "forged"}}})
    assert values_of({"secrets": {"k": "real"}, "late": {"public-key": {"r2": "P"}}}) == {
        "secret": {"k": "real"},
        "public-key": {"r2": "P"},
    }


def test_turning_commit_confirm_off_or_on_is_a_change() -> None:
    base = {"router": "r1", "endpoint": "https://10.0.0.1:443", "config": {}, "owns": {}, "secrets": {}, "tls": {}}
    diff = VyosConfigProvider().diff
    assert diff("id", base, {**base, "confirm": True}).changes is False  # earlier state: confirmed applies
    assert diff("id", {**base, "confirm": True}, {**base, "confirm": False}).changes is True
