"""pytest-xdist: one process's verdict, the target in every worker, crashes fail closed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Server, require

MIXED = """
import pytest

@pytest.mark.smoke
@pytest.mark.parametrize("n", range(6))
def test_health(http, n):
    http.get("/health").raise_for_status()

@pytest.mark.contract
def test_broken(http):
    assert http.get("/missing").status_code == 200

@pytest.mark.post_deploy(blocking=False)
def test_advisory():
    assert False, "slow"

@pytest.mark.post_deploy
@pytest.mark.destructive
def test_write(http):
    http.post("/items")

@pytest.mark.smoke
@pytest.mark.only_targets("staging")
def test_staging_only():
    pass

@pytest.mark.smoke
def test_skipped():
    pytest.skip("feature flag off")

def test_unit():
    pass
"""


def run(pytester: pytest.Pytester, server: Server, *args: str) -> tuple[int, dict[str, Any]]:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.prod]\nbase_url = "{server.url}"\nprotected = true\n'
        # only_targets names are checked against the file (SPEC §10).
        f'[targets.staging]\nbase_url = "{server.url}"\n'
    )
    result = pytester.runpytest_subprocess("--deploy-target=prod", "-p", "no:cacheprovider",
                                           *args)
    data = json.loads((pytester.path / "deploy-verdict.json").read_text())
    return int(result.ret), data["predicate"]["deployability"]


def test_distributed_runs_reach_the_same_verdict(pytester: pytest.Pytester,
                                                 server: Server) -> None:
    require("xdist")
    pytester.makepyfile(MIXED)
    serial_ret, serial = run(pytester, server, "-n", "0")
    parallel_ret, parallel = run(pytester, server, "-n", "2")
    assert serial_ret == parallel_ret == 1
    assert serial["verdict"] == parallel["verdict"] == "NOT_DEPLOYABLE"
    assert serial["summary"] == parallel["summary"] == {
        "passed": 6, "failed": 2, "errors": 0, "skipped": 1, "refused": 1,
        "notApplicable": 1, "notRun": 0,
    }
    assert serial["reasons"] == parallel["reasons"]

    def checks(ext: dict[str, Any]) -> list[tuple[str, str, bool, str]]:
        return sorted((c["id"], c["category"], c["blocking"], c["outcome"])
                      for c in ext["checks"])

    assert checks(serial) == checks(parallel)
    assert len(checks(parallel)) == 11


def test_the_target_resolves_in_every_worker_from_ini_only(
    pytester: pytest.Pytester, server: Server
) -> None:
    require("xdist")
    pytester.path.joinpath("envs.toml").write_text(
        f'[targets.qa]\nbase_url = "{server.url}"\nvariables = {{ tenant = "t1" }}\n'
    )
    pytester.makeini("[pytest]\ndeploy_targets_file = envs.toml\n")
    pytester.makepyfile("""
        import os
        import pytest

        @pytest.mark.smoke
        @pytest.mark.parametrize("n", range(8))
        def test_where(deploy_target, worker_id, http, n):
            assert deploy_target.name == "qa"
            assert deploy_target.variables["tenant"] == "t1"
            http.get("/health?worker=" + worker_id).raise_for_status()
    """)
    result = pytester.runpytest_subprocess("--deploy-target=qa", "-n", "2")
    assert result.ret == 0
    workers = {r.path.split("=")[1] for r in server.received}
    assert workers == {"gw0", "gw1"}


def test_a_crashed_worker_is_never_deployable(pytester: pytest.Pytester,
                                              server: Server) -> None:
    require("xdist")
    pytester.makepyfile("""
        import os
        import pytest

        @pytest.mark.smoke
        @pytest.mark.parametrize("n", range(4))
        def test_ok(n):
            pass

        @pytest.mark.contract
        def test_crash():
            os._exit(3)
    """)
    ret, ext = run(pytester, server, "-n", "2")
    assert ext["verdict"] in ("NOT_DEPLOYABLE", "INCONCLUSIVE")
    assert ret in (1, 6)
    crashed = [c for c in ext["checks"] if c["id"].endswith("test_crash")]
    assert crashed[0]["outcome"] in ("failed", "error", "notRun")
