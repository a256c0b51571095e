"""Smoke checks: is the service up and answering at all? They run first."""

from __future__ import annotations

import pytest
import requests

from pytest_deployable import Target

pytestmark = pytest.mark.smoke


def test_health_says_ok(http: requests.Session) -> None:
    """The health endpoint answers 200 with status ok."""
    response = http.get("/health")  # relative URLs go to the target's base_url
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_version_endpoint_answers(http: requests.Session) -> None:
    """The version endpoint names the running version."""
    response = http.get("/version")
    assert response.status_code == 200
    assert isinstance(response.json()["version"], str)


@pytest.mark.only_targets("staging", "production")
def test_plain_http_redirects_to_https(deploy_target: Target) -> None:
    """Away from this machine, plain HTTP only redirects to HTTPS ("not applicable" locally).

    It uses bare requests rather than the http fixture, so the target's API key
    is never sent unencrypted.
    """
    assert deploy_target.base_url is not None
    assert deploy_target.base_url.startswith("https://")
    plain = "http://" + deploy_target.base_url.removeprefix("https://")
    response = requests.get(f"{plain}/health", allow_redirects=False,
                            timeout=deploy_target.timeout)
    assert response.status_code in (301, 308)
    assert response.headers["Location"].startswith("https://")
