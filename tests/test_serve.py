"""``deployable serve``: every route of SPEC §15 against the real server on loopback.

One service for the module (uvicorn in its own process, a SQLite ledger); the
tests that need another configuration start their own. Bodies are what a runner,
a controller or an attacker would send; answers are checked by status and JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from _ledger import make_statement
from _serve import STOPPED, TOKEN, Service, make_project, start
from _signing import make_keys

from pytest_deployable.envelope import seal

POLICY = """\
[policy.canary]
require_signature = true
trusted_keys = ["keys/ci.pub"]
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = make_project(tmp_path_factory.mktemp("serve"))
    (folder / "keys").mkdir()
    make_keys(folder / "keys", "ci")
    make_keys(folder / "keys", "stranger")
    (folder / "deploy-policy.toml").write_text(POLICY)
    running = start(folder, "--suite", "suite", "--max-body", "200000")
    yield running
    assert running.stop() == STOPPED
    log = (folder / "serve.log").read_text()
    assert "Traceback" not in log, log


def post_verdict(service: Service, document: Any, **kwargs: Any) -> Any:
    return service.post("/v1/verdicts", data=json.dumps(document), **kwargs)


def sign(service: Service, statement: dict[str, Any], key: str = "ci") -> dict[str, Any]:
    from pytest_deployable.keys import load_private_key

    return seal(statement, load_private_key(service.folder / "keys" / f"{key}.key"))


# -- health and can-i-deploy -------------------------------------------------------------------


def test_healthz_says_ok_with_the_ledger(service: Service) -> None:
    # The first write creates the SQLite ledger; before it, a reader finds no ledger.
    post_verdict(service, make_statement("staging", "0.0.1"))
    answer = service.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["readOnly"] is False


@pytest.mark.parametrize(("verdict", "status", "answer"), [
    ("DEPLOYABLE", 200, "yes"), ("NOT_DEPLOYABLE", 409, "no"), (None, 404, "unknown")])
def test_can_i_deploy_status_follows_the_answer(service: Service, verdict: str | None,
                                                status: int, answer: str) -> None:
    version = f"1.0.{status}"
    if verdict is not None:
        assert post_verdict(service, make_statement("staging", version, verdict)
                            ).status_code == 201
    got = service.get(f"/v1/can-i-deploy?version={version}&to=production")
    assert got.status_code == status
    body = got.json()
    assert (body["answer"], body["deployable"]) == (answer, answer == "yes")
    assert body["reasons"][0].startswith(f"staging: {answer}")
    argo = service.get(f"/v1/can-i-deploy?version={version}&to=production&format=argo")
    assert argo.status_code == 200
    assert argo.json()["deployable"] is (answer == "yes")


def test_a_partial_pass_is_not_yes(service: Service) -> None:
    post_verdict(service, make_statement("staging", "1.1.0", complete=False))
    got = service.get("/v1/can-i-deploy?version=1.1.0&to=production")
    assert got.status_code == 409
    assert "partial" in got.json()["reasons"][0]


@pytest.mark.parametrize(("query", "says"), [
    ("version=1&to=nowhere", "'nowhere' is not a target"),
    ("version=1&to=staging", "has no promote_from"),
    ("to=production", "version is missing"),
    ("version=1&to=production&format=xml", "format must be json or argo"),
    ("version=1&to=production&strict=yes", "strict must be true or false"),
])
def test_can_i_deploy_bad_questions_are_400(service: Service, query: str, says: str) -> None:
    got = service.get(f"/v1/can-i-deploy?{query}")
    assert got.status_code == 400
    assert says in got.json()["error"]


def test_argo_format_answers_200_not_deployable_even_for_a_bad_question(
        service: Service) -> None:
    got = service.get("/v1/can-i-deploy?version=1&to=nowhere&format=argo")
    assert got.status_code == 200
    assert got.json()["deployable"] is False
    assert got.json()["answer"] == "unknown"


# -- POST /v1/verdicts ---------------------------------------------------------------------------


def test_recording_a_verdict_201_then_200(service: Service) -> None:
    statement = make_statement("staging", "2.0.0")
    first = post_verdict(service, statement)
    assert first.status_code == 201
    assert first.json()["new"] is True
    again = post_verdict(service, statement)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert service.get("/v1/can-i-deploy?version=2.0.0&to=production").status_code == 200


@pytest.mark.parametrize(("headers", "token"), [
    ({}, None), ({}, "wrong-token-0123456789"), ({"Authorization": f"Basic {TOKEN}"}, None),
    ({}, TOKEN[:-1]), ({}, TOKEN + "x")])
def test_writes_need_the_bearer_token(service: Service, headers: dict[str, str],
                                      token: str | None) -> None:
    statement = make_statement("staging", "2.1.0")
    got = post_verdict(service, statement, token=token, headers=headers)
    assert got.status_code == 401
    assert got.headers["WWW-Authenticate"].startswith("Bearer")
    assert service.post("/v1/deployments", token=token, headers=headers,
                        json={"target": "staging", "version": "2.1.0"}).status_code == 401
    # Nothing was recorded: the version is still unknown.
    assert service.get("/v1/can-i-deploy?version=2.1.0&to=production").status_code == 404


@pytest.mark.parametrize(("body", "says"), [
    (b"", "empty"), (b"{not json", "not JSON"), (b'{"_type": 1, "_type": 2}', "appears twice"),
    (json.dumps({"hello": "world"}).encode(), "not a verdict"),
    (b"\xff\xfe", "UTF-8"),
])
def test_a_malformed_verdict_is_400(service: Service, body: bytes, says: str) -> None:
    got = service.post("/v1/verdicts", data=body)
    assert got.status_code == 400
    assert says in got.json()["error"]


def test_an_edited_verdict_is_400(service: Service) -> None:
    statement = make_statement("staging", "2.2.0", "NOT_DEPLOYABLE")
    statement["predicate"]["deployability"]["verdict"] = "DEPLOYABLE"
    got = post_verdict(service, statement)
    assert got.status_code == 400
    assert service.get("/v1/can-i-deploy?version=2.2.0&to=production").status_code == 404


def test_a_body_too_large_is_413_and_nothing_is_recorded(service: Service) -> None:
    statement = make_statement("staging", "2.3.0")
    statement["predicate"]["deployability"]["reasons"] = []
    padded = json.dumps(statement).encode() + b" " * 200_001
    assert service.post("/v1/verdicts", data=padded).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, counted as it comes
        for _ in range(30):
            yield b" " * 10_000
    assert service.post("/v1/verdicts", data=chunks()).status_code == 413
    assert service.get("/v1/can-i-deploy?version=2.3.0&to=production").status_code == 404


def test_signed_verdicts_where_the_policy_requires_them(service: Service) -> None:
    statement = make_statement("canary", "3.0.0")
    bare = post_verdict(service, statement)
    assert bare.status_code == 422
    assert "must be signed" in bare.json()["error"]
    stranger = post_verdict(service, sign(service, statement, "stranger"))
    assert stranger.status_code == 422
    assert "not a trusted key" in stranger.json()["error"]
    tampered = sign(service, statement)
    other = make_statement("canary", "3.0.1")
    import base64
    tampered["payload"] = base64.b64encode(json.dumps(other).encode()).decode()
    assert post_verdict(service, tampered).status_code == 422
    good = post_verdict(service, sign(service, statement))
    assert good.status_code == 201
    assert good.json()["signed"] is True
    assert len(good.json()["verifiedBy"]) == 64


def test_any_verdict_with_a_key_option(tmp_path: Path) -> None:
    folder = make_project(tmp_path)
    key = make_keys(folder, "ci")
    service = start(folder, "--key", "ci.pub")
    try:
        statement = make_statement("staging", "3.1.0")
        assert post_verdict(service, statement).status_code == 422
        assert post_verdict(service, seal(statement, key)).status_code == 201
    finally:
        service.stop()


# -- POST /v1/deployments ------------------------------------------------------------------------


def test_recording_a_deployment(service: Service) -> None:
    body = {"target": "production", "version": "2.0.0", "id": "pipeline-41",
            "commit": "abc123", "commitTime": "2026-01-01T10:00:00Z"}
    first = service.post("/v1/deployments", json=body)
    assert first.status_code == 201
    assert first.json()["id"] == "pipeline-41"
    assert first.json()["status"] == "succeeded"
    assert service.post("/v1/deployments", json=body).status_code == 200
    clash = service.post("/v1/deployments", json={**body, "version": "9.9.9"})
    assert clash.status_code == 409
    assert "already the deployment" in clash.json()["error"]


@pytest.mark.parametrize(("body", "says"), [
    ({"version": "1"}, "target is missing"),
    ({"target": "production", "version": "1", "stauts": "failed"}, "unknown key 'stauts'"),
    ({"target": "production", "version": "1", "status": "ok"}, "status must be"),
    ({"target": "production", "version": "1", "time": "yesterday"}, "time must be"),
    ({"target": "production", "version": "1", "time": "2026-01-01T10:00:00"}, "time must be"),
    ({"target": "", "version": "1"}, "target must be"),
    ({"target": "x" * 501, "version": "1"}, "target must be"),
    (["target"], "must be a JSON object"),
])
def test_a_malformed_deployment_is_400(service: Service, body: Any, says: str) -> None:
    got = service.post("/v1/deployments", json=body)
    assert got.status_code == 400
    assert says in got.json()["error"]


# -- Flagger ---------------------------------------------------------------------------------------


def flagger_payload(version: str, **metadata: str) -> dict[str, Any]:
    return {"name": "shop-api", "namespace": "shop", "phase": "Progressing",
            "checksum": "abc", "metadata": {"target": "production", "version": version,
                                            **metadata}}


@pytest.mark.parametrize("hook", ["pre-rollout", "rollout", "confirm-promotion"])
def test_flagger_gating_hooks_proceed_only_on_yes(service: Service, hook: str) -> None:
    post_verdict(service, make_statement("staging", "4.0.0"))
    yes = service.post(f"/v1/flagger/{hook}", token=None, json=flagger_payload("4.0.0"))
    assert yes.status_code == 200
    assert yes.json()["proceed"] is True
    unknown = service.post(f"/v1/flagger/{hook}", token=None, json=flagger_payload("4.0.9"))
    assert unknown.status_code == 403
    assert unknown.json()["proceed"] is False


def test_flagger_rollback_answers_200_when_not_deployable(service: Service) -> None:
    post_verdict(service, make_statement("staging", "4.1.0"))
    post_verdict(service, make_statement("staging", "4.1.1", "NOT_DEPLOYABLE"))
    keep = service.post("/v1/flagger/rollback", token=None, json=flagger_payload("4.1.0"))
    assert (keep.status_code, keep.json()["rollback"]) == (403, False)
    back = service.post("/v1/flagger/rollback", token=None, json=flagger_payload("4.1.1"))
    assert (back.status_code, back.json()["rollback"]) == (200, True)
    never = service.post("/v1/flagger/rollback", token=None, json=flagger_payload("4.1.9"))
    assert never.status_code == 200


@pytest.mark.parametrize(("hook", "body", "status", "says"), [
    ("pre-rollout", {"name": "a", "namespace": "b", "phase": "c"}, 400, "metadata is missing"),
    ("pre-rollout", {"name": "a", "namespace": "b", "phase": "c", "metadata": {}}, 400,
     "target is missing"),
    ("pre-rollout", {"name": "a", "namespace": "b", "phase": "c",
                     "metadata": {"target": "production"}}, 400, "version is missing"),
    ("pre-rollout", {"name": "a", "namespace": "b", "phase": "c",
                     "metadata": {"target": "production", "version": 1}}, 400,
     "metadata must be an object of strings"),
    ("pre-rollout", {"name": 1, "namespace": "b", "phase": "c",
                     "metadata": {"target": "production", "version": "1"}}, 400,
     "name must be a string"),
    ("pre-rollout", {"name": "a", "namespace": "b", "phase": "c",
                     "metadata": {"target": "nowhere", "version": "1"}}, 400,
     "not a target"),
    ("post-deploy", {}, 404, "no Flagger hook"),
])
def test_flagger_payloads_are_checked(service: Service, hook: str, body: Any, status: int,
                                      says: str) -> None:
    got = service.post(f"/v1/flagger/{hook}", token=None, json=body)
    assert got.status_code == status
    assert says in got.json()["error"]


# -- the page, errors, secrets ---------------------------------------------------------------------


def test_the_page_lists_latest_verdicts_escaped(service: Service) -> None:
    statement = make_statement("staging", "<script>alert(1)</script>", "NOT_DEPLOYABLE")
    assert post_verdict(service, statement).status_code == 201
    page = service.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/nowhere", 404), ("DELETE", "/v1/verdicts", 405), ("GET", "/v1/verdicts", 405),
    ("POST", "/healthz", 405)])
def test_errors_are_json_without_a_traceback(service: Service, method: str, path: str,
                                             status: int) -> None:
    import requests

    got = requests.request(method, service.url + path, timeout=30)
    assert got.status_code == status
    assert set(got.json()) == {"error"}
    assert "Traceback" not in got.text


def test_no_answer_shows_the_token(service: Service) -> None:
    time_ = (datetime.now(timezone.utc) - timedelta(seconds=5)).replace(microsecond=0)
    statement = make_statement("staging", TOKEN, finished=time_)  # a version that is the token
    answer = post_verdict(service, statement)
    assert answer.status_code == 201
    for path in ("/", "/healthz", f"/v1/can-i-deploy?version={TOKEN}&to=production"):
        assert TOKEN not in service.get(path).text


def test_read_only_without_the_token_variable(tmp_path: Path) -> None:
    folder = make_project(tmp_path)
    service = start(folder, token=False)
    try:
        assert "read-only" in service.banner
        got = post_verdict(service, make_statement("staging", "5.0.0"))
        assert got.status_code == 403
        assert "read-only" in got.json()["error"]
        assert service.post("/v1/deployments", json={"target": "staging", "version": "5"}
                            ).status_code == 403
        # A read-only service never creates a ledger: there is none yet, so not healthy.
        assert service.get("/healthz").status_code == 503
        assert not (folder / "deploy-ledger.db").exists()
    finally:
        assert service.stop() == STOPPED


def test_the_page_is_the_report_page_once_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from pytest_deployable.serve.page import render_page

    report = types.ModuleType("pytest_deployable.report")
    report.render_report = lambda ledger: f"<p>the report of {ledger}</p>"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pytest_deployable.report", report)
    assert render_page("the ledger") == "<p>the report of the ledger</p>"


def test_a_large_body_without_the_token_is_401_unread(service: Service) -> None:
    got = service.post("/v1/verdicts", token=None, data=b" " * 300_000)
    assert got.status_code == 401
