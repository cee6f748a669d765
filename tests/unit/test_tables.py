"""The fact tables (VyOS releases, cloud limits) and the model admit the same things."""

from __future__ import annotations

from typing import get_args

from fabric import model
from fabric.cloud_limits import CLOUDS
from fabric.components.cloud import extension_class
from fabric.vyos_releases import RELEASES
from fabric.vyos_schema import SUPPORTED_VERSIONS


def test_the_model_admits_exactly_the_releases_in_the_table() -> None:
    assert set(get_args(model.Router.model_fields["vyos_version"].annotation)) == set(RELEASES)
    assert tuple(RELEASES) == SUPPORTED_VERSIONS
    for version, release in RELEASES.items():
        assert release.version == version
        # What a router can be told to do on expiry exists only where the API has a timer.
        assert not release.confirm_action or release.commit_confirm


def test_every_cloud_has_its_limits_and_its_extension() -> None:
    assert tuple(CLOUDS) == model.CLOUD_PROVIDERS == tuple(model.Clouds.model_fields)
    for provider, limits in CLOUDS.items():
        assert limits.provider == provider and limits.user_data_bytes >= 16 * 1024
        assert extension_class(provider).TYPE.startswith("fabric:cloud:")
