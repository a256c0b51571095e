"""The version check against a real round-robin service: converged means every answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _roundrobin import round_robin

SMOKE = "import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n"


def version_body(version: Any) -> bytes:
    return json.dumps({"build": {"version": version}}).encode()


def targets(pytester: pytest.Pytester, url: str, extra: str = "") -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.svc]\nbase_url = "{url}"\nversion_url = "/version"\n'
        f'version_field = "build.version"\n{extra}'
    )


def run(pytester: pytest.Pytester, version: str, workers: str,
        within: str = "1s") -> tuple[int, dict[str, Any], str]:
    result = pytester.runpytest_subprocess(
        "--deploy-target=svc", f"--deploy-version={version}",
        f"--deploy-version-within={within}", "-n", workers, "-p", "no:cacheprovider",
    )
    data = json.loads(Path(pytester.path, "deploy-verdict.json").read_text())
    return result.ret, data["predicate"]["deployability"], result.stdout.str()


def version_check(ext: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in ext["checks"] if c["id"] == "deployable::version")


@pytest.mark.parametrize("workers", ["0", "2"])
def test_one_replica_of_four_on_the_new_version_is_not_converged(
    pytester: pytest.Pytester, workers: str
) -> None:
    # The balancer's first connection goes to the one new replica.
    bodies = [version_body("1.4.2")] + [version_body("1.4.1")] * 3
    with round_robin(bodies) as service:
        targets(pytester, service.url)
        pytester.makepyfile(SMOKE)
        ret, ext, out = run(pytester, "1.4.2", workers)
    assert ret == 1, out
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    check = version_check(ext)
    assert check["outcome"] == "failed"
    assert "reports version '1.4.1', expected '1.4.2'" in check["message"]
    evidence = check["evidence"]
    assert evidence["versionSamples"] == 5
    seen = {entry["version"]: entry["answers"] for entry in evidence["versions"]}
    assert set(seen) == {"1.4.2", "1.4.1"}
    # Every answer the check read is counted, and each came from a connection of its own.
    assert evidence["answers"] == sum(seen.values()) == service.connections
    assert sum(replica.answered for replica in service.replicas) == evidence["answers"]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_every_replica_on_the_version_passes_after_samples_in_a_row(
    pytester: pytest.Pytester, workers: str
) -> None:
    with round_robin([version_body("1.4.2")] * 4) as service:
        targets(pytester, service.url, "version_samples = 8\n")
        pytester.makepyfile(SMOKE)
        ret, ext, out = run(pytester, "1.4.2", workers)
    assert ret == 0, out
    assert ext["verdict"] == "DEPLOYABLE"
    assert version_check(ext)["evidence"] == {
        "versionSamples": 8, "answers": 8, "versions": [{"version": "1.4.2", "answers": 8}],
    }
    # Eight connections over four replicas: each replica answered twice.
    assert [replica.answered for replica in service.replicas] == [2, 2, 2, 2]


def test_a_rollout_that_finishes_converges(pytester: pytest.Pytester) -> None:
    bodies = [version_body("1.4.2")] + [version_body("1.4.1")] * 2
    with round_robin(bodies) as service:
        targets(pytester, service.url, "version_samples = 3\n")
        pytester.makepyfile(SMOKE)

        # The old replicas move to the new version after a few answers.
        def upgrade() -> None:
            from conftest import wait_for

            wait_for(lambda: service.connections >= 4, timeout=60)
            for replica in service.replicas:
                replica.body = version_body("1.4.2")

        import threading

        threading.Thread(target=upgrade, daemon=True).start()
        ret, ext, out = run(pytester, "1.4.2", "0", within="60s")
    assert ret == 0, out
    evidence = version_check(ext)["evidence"]
    seen = {entry["version"]: entry["answers"] for entry in evidence["versions"]}
    assert seen["1.4.1"] >= 1
    assert seen["1.4.2"] >= 3
    assert version_check(ext)["waits"][0]["attempts"] >= 2


@pytest.mark.parametrize(("answer", "expected", "outcome"), [
    (b'{"build": {"version": 1.10}}', "1.1", "failed"),
    (b'{"build": {"version": 1.10}}', "1.10", "passed"),
    (b'{"build": {"version": "1.10"}}', "1.1", "failed"),
    (b'{"build": {"version": null}}', "None", "failed"),
    (b'{"build": {"version": true}}', "True", "failed"),
    (b'{"build": {"version": 2}}', "2", "passed"),
])
def test_versions_are_compared_as_written_and_null_is_no_version(
    pytester: pytest.Pytester, answer: bytes, expected: str, outcome: str
) -> None:
    with round_robin([answer]) as service:
        targets(pytester, service.url, "version_samples = 2\n")
        pytester.makepyfile(SMOKE)
        ret, ext, out = run(pytester, expected, "0", within="0.3s")
    check = version_check(ext)
    assert check["outcome"] == outcome, out
    assert ret == (0 if outcome == "passed" else 1)
    if answer.endswith(b"null}}"):
        assert "reports no version, expected 'None'" in check["message"]
    if answer.endswith(b"true}}"):
        assert "build.version = true, which is not a version" in check["message"]


def test_version_samples_must_be_a_whole_number(pytester: pytest.Pytester) -> None:
    targets(pytester, "http://127.0.0.1:1", "version_samples = 0\n")
    pytester.makepyfile(SMOKE)
    result = pytester.runpytest("--deploy-target=svc", "--deploy-version=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*targets.svc.version_samples must be a whole number from 1 "
                                 "to 100*, not 0*"])
