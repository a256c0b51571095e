"""``deployable serve`` when its database goes away: 503, never 200, and back by itself.

The ledger is a real PostgreSQL cluster of this test's own (the session's shared
one must keep running for the other tests), stopped with ``pg_ctl stop`` while the
service runs, and started again; the service is never restarted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _ledger import make_statement
from _serve import make_project, start
from conftest import IN_CI, wait_for


@pytest.fixture
def cluster() -> Iterator[Any]:
    from _postgres import bindir, postgres_cluster

    if bindir() is None:
        if IN_CI:
            pytest.fail("PostgreSQL (initdb) is missing in CI; .ci/run installs it",
                        pytrace=False)
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_cluster() as running:
        yield running


def test_a_stopped_database_is_503_never_200_and_recovers(cluster: Any, tmp_path: Path) -> None:
    url = cluster.url(cluster.create_database())
    service = start(make_project(tmp_path), "--ledger", url)
    ask = "/v1/can-i-deploy?version=1.0.0&to=production"
    try:
        recorded = service.post("/v1/verdicts", data=json.dumps(
            make_statement("staging", "1.0.0")))
        assert recorded.status_code == 201
        assert service.get("/healthz").status_code == 200
        assert service.get(ask).status_code == 200
        cluster.pg_ctl("stop")
        try:
            for _ in range(5):
                health = service.get("/healthz")
                assert health.status_code == 503
                assert health.json()["status"] == "unavailable"
                assert cluster.password not in health.text
                answer = service.get(ask)
                assert answer.status_code == 503
                assert "the ledger cannot be used" in answer.json()["error"]
                argo = service.get(ask + "&format=argo")
                assert (argo.status_code, argo.json()["deployable"]) == (200, False)
                flagger = service.post("/v1/flagger/pre-rollout", token=None, json={
                    "name": "shop", "namespace": "shop", "phase": "Progressing",
                    "metadata": {"target": "production", "version": "1.0.0"}})
                assert flagger.status_code == 503
                rollback = service.post("/v1/flagger/rollback", token=None, json={
                    "name": "shop", "namespace": "shop", "phase": "Progressing",
                    "metadata": {"target": "production", "version": "1.0.0"}})
                assert (rollback.status_code, rollback.json()["rollback"]) == (200, True)
                assert service.post("/v1/verdicts", data=json.dumps(
                    make_statement("staging", "1.0.1"))).status_code == 503
        finally:
            cluster.pg_ctl("start")
        assert wait_for(lambda: service.get("/healthz").status_code == 200, 30)
        assert service.get(ask).status_code == 200
    finally:
        service.stop()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
