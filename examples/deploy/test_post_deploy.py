"""Post-deploy checks: the release is the one we meant, and it behaves as a user sees it."""

from __future__ import annotations

import uuid

import pytest
import requests

from pytest_deployable import Target


@pytest.mark.post_deploy
def test_running_version_is_the_released_one(
    http: requests.Session, deploy_target: Target
) -> None:
    """The service reports the version this run was told to check (--deploy-version)."""
    if deploy_target.version is None:
        pytest.skip("no --deploy-version given")
    assert http.get("/version").json()["version"] == deploy_target.version


@pytest.mark.post_deploy(blocking=False)
def test_recommendations_answer_within_200_ms(http: requests.Session) -> None:
    """Advisory: slow recommendations warn, but do not stop a release."""
    response = http.get("/recommendations")
    assert response.status_code == 200
    elapsed_ms = round(response.elapsed.total_seconds() * 1000)
    assert elapsed_ms < 200, f"/recommendations took {elapsed_ms} ms"


@pytest.mark.smoke
@pytest.mark.destructive
def test_created_item_can_be_read_back(http: requests.Session, deploy_target: Target) -> None:
    """Creating an item works end to end. It changes state, so it is marked destructive:
    on a protected target it is refused unless the run says --allow-destructive."""
    prefix = deploy_target.variables.get("item_prefix", "deploy-check")
    new_item = {"name": f"{prefix}-{uuid.uuid4().hex[:8]}", "price": 1.5, "in_stock": False}
    created = http.post("/items", json=new_item)
    assert created.status_code == 201, created.text
    item = created.json()
    assert {key: item[key] for key in new_item} == new_item
    read_back = http.get(f"/items/{item['id']}").json()
    changed = {key: (item[key], read_back.get(key)) for key in item
               if read_back.get(key) != item[key]}
    assert not changed, f"read back differs from what was created (created, read): {changed}"
