"""``GET /v1/check``: the suite run as a real pytest process by the real service.

Processes are counted (each run appends its pid to ``runs.txt``), never timed:
two callers at once start one run, an answer is served from the cache, a run
past ``--check-timeout`` is stopped. Every path that could answer 200 without a
passing, recorded verdict is tried first.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _serve import TOKEN, Service, make_project, start
from conftest import wait_for


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = start(make_project(tmp_path_factory.mktemp("check")), "--suite", "suite")
    yield running
    running.stop()


def check(service: Service, version: str, target: str = "staging") -> Any:
    return service.get(f"/v1/check?target={target}&version={version}")


def test_a_passing_run_is_200_recorded_and_promotes(service: Service) -> None:
    service.mode("pass")
    before = len(service.runs())
    got = check(service, "1.0.0")
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["verdict"], body["deployable"], body["exitCode"]) == ("DEPLOYABLE", True, 0)
    assert "1 passed" in body["output"]
    assert body["digest"].startswith("sha256:")
    assert len(service.runs()) == before + 1
    # Recorded in the ledger: it is the verdict that decides can-i-deploy (yes once runs
    # record their selection as complete, SPEC section 10).
    asked = service.get("/v1/can-i-deploy?version=1.0.0&to=production").json()
    assert asked["requirements"][0]["verdict"]["digest"] == body["digest"]


def test_a_failing_run_is_503_and_revokes(service: Service) -> None:
    service.mode("fail")
    got = check(service, "1.1.0")
    assert got.status_code == 503
    assert got.json()["verdict"] == "NOT_DEPLOYABLE"
    assert "the health check failed" in got.json()["output"]
    assert service.get("/v1/can-i-deploy?version=1.1.0&to=production").status_code == 409


@pytest.mark.parametrize(("mode", "says"), [
    ("exit0", "verdict"),         # exit 0 and no verdict file: never deployable
    ("exit6", "pytest exited 6"),  # a DEPLOYABLE file, but the run failed after writing it
])
def test_no_pass_without_both_exit_0_and_a_passing_verdict(service: Service, mode: str,
                                                            says: str) -> None:
    service.mode(mode)
    got = check(service, f"1.2.{mode}")
    assert got.status_code == 503, got.text
    assert got.json()["verdict"] == "INCONCLUSIVE"
    assert got.json()["deployable"] is False
    assert says in got.json()["reasons"][0]


def test_two_calls_at_once_start_one_run(service: Service) -> None:
    control = service.folder / "control"
    service.mode("wait")
    before = len(service.runs())
    answers: list[Any] = []

    def call() -> None:
        answers.append(check(service, "2.0.0"))

    first = threading.Thread(target=call)
    first.start()
    assert wait_for(lambda: len(service.runs()) == before + 1, 60)  # the run is under way
    second = threading.Thread(target=call)
    second.start()
    # Both callers are waiting on the service side before the run may finish.
    assert wait_for(lambda: service.get("/healthz").json()["checks"]["waiting"] == 2, 60)
    (control / "release").write_text("")
    first.join(120)
    second.join(120)
    (control / "release").unlink()
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["run"] == answers[1].json()["run"]
    assert len(service.runs()) == before + 1
    # Within --cache (30s) the answer is kept: no third process.
    third = check(service, "2.0.0")
    assert third.json()["cached"] is True
    assert third.json()["run"] == answers[0].json()["run"]
    assert len(service.runs()) == before + 1


def test_another_version_waits_for_the_target(service: Service) -> None:
    control = service.folder / "control"
    service.mode("wait")
    before = len(service.runs())
    answers: dict[str, Any] = {}

    def call(version: str) -> None:
        answers[version] = check(service, version)

    first = threading.Thread(target=call, args=("2.1.0",))
    first.start()
    assert wait_for(lambda: len(service.runs()) == before + 1, 60)
    second = threading.Thread(target=call, args=("2.1.1",))
    second.start()
    assert wait_for(lambda: service.get("/healthz").json()["checks"]["waiting"] == 2, 60)
    # The second version is waiting for the target, not running beside the first.
    assert len(service.runs()) == before + 1
    (control / "release").write_text("")
    first.join(120)
    second.join(120)
    (control / "release").unlink()
    assert len(service.runs()) == before + 2
    assert answers["2.1.1"].json()["run"] == answers["2.1.0"].json()["run"] + 1
    assert [answers[v].status_code for v in ("2.1.0", "2.1.1")] == [200, 200]


def test_check_bad_questions(service: Service) -> None:
    assert "not a target" in check(service, "1", target="nowhere").json()["error"]
    got = service.get("/v1/check?target=staging")
    assert got.status_code == 400
    assert "version is missing" in got.json()["error"]


def test_the_run_does_not_see_the_token(service: Service) -> None:
    service.mode("pass")
    got = check(service, "3.0.0")
    assert got.status_code == 200
    assert (service.folder / "control" / "token-seen").read_text() == "none"
    assert TOKEN not in got.text


def test_flagger_run_true_runs_a_fresh_check(service: Service) -> None:
    service.mode("pass")
    before = len(service.runs())
    payload = {"name": "shop-api", "namespace": "shop", "phase": "Progressing",
               "metadata": {"target": "staging", "version": "4.0.0", "run": "true"}}
    got = service.post("/v1/flagger/pre-rollout", token=None, json=payload)
    assert got.status_code == 200, got.text
    assert got.json()["verdict"] == "DEPLOYABLE"
    assert len(service.runs()) == before + 1


def test_a_run_past_the_timeout_is_stopped_and_inconclusive(tmp_path: Path) -> None:
    service = start(make_project(tmp_path), "--suite", "suite", "--check-timeout", "1s",
                    "--cache", "0")
    try:
        service.mode("hang")
        got = check(service, "5.0.0")
        assert got.status_code == 503
        body = got.json()
        assert (body["verdict"], body["exitCode"]) == ("INCONCLUSIVE", None)
        assert "--check-timeout 1s" in body["reasons"][0]
        # Under load the run can be stopped before its check starts, and then no pid
        # was recorded; either way no process of the run may outlive the timeout.
        assert wait_for(lambda: not _children(service.process.pid), 30)
        assert wait_for(lambda: not any(_alive(pid) for pid in service.runs()), 30)
        assert service.get("/v1/can-i-deploy?version=5.0.0&to=production").status_code != 200
    finally:
        service.stop()


def test_without_a_suite_check_is_404(tmp_path: Path) -> None:
    service = start(make_project(tmp_path))
    try:
        got = check(service, "1")
        assert got.status_code == 404
        assert "--suite" in got.json()["error"]
    finally:
        service.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stopping_the_service_stops_its_runs(tmp_path: Path) -> None:
    service = start(make_project(tmp_path), "--suite", "suite")
    service.mode("hang")
    caller = threading.Thread(target=lambda: _quietly(check, service, "6.0.0"))
    caller.start()
    assert wait_for(lambda: len(service.runs()) == 1, 60)
    [pid] = service.runs()
    assert service.stop() == 0
    caller.join(60)
    assert wait_for(lambda: not _alive(pid), 30)


def _quietly(call: Any, *args: Any) -> None:
    import requests

    # The service goes away while answering: what the test does.
    with contextlib.suppress(requests.RequestException):
        call(*args)


def _children(parent: int) -> list[int]:
    """The pids of ``parent``'s live child processes, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found
