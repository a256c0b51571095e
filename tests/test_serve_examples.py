"""The controller examples in examples/serve/ make requests the real service answers right.

Each example is parsed the way its controller reads it, and the exact request it
would make (method, path, query, headers, body) is sent to a running
``deployable serve``; the controller's own rule (Argo's conditions, Flagger's
2xx, Spinnaker's fail-fast codes) is applied to the answer.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from _ledger import make_statement, write
from _serve import TOKEN, Service, make_project, start
from _service import EXAMPLES
from conftest import IN_CI

from pytest_deployable.cli import _parser
from pytest_deployable.serve.settings import is_loopback, parse_listen

SERVE = EXAMPLES / "serve"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = start(make_project(tmp_path_factory.mktemp("examples")), "--suite", "suite")
    for version, verdict in (("1.4.2", "DEPLOYABLE"), ("1.4.3", "NOT_DEPLOYABLE")):
        assert running.post("/v1/verdicts", data=json.dumps(
            make_statement("staging", version, verdict))).status_code == 201
    yield running
    running.stop()


def local(url: str, service: Service) -> str:
    """The example's URL, sent to the test's service: same path and query."""
    parts = urlsplit(url)
    return f"{service.url}{parts.path}?{parts.query}" if parts.query else \
        f"{service.url}{parts.path}"


def argo_condition(condition: str, result: dict[str, Any]) -> bool:
    """An Argo condition of the form ``result.KEY == VALUE`` (the examples use no other)."""
    found = re.fullmatch(r'result\.(\w+) == (true|false|"[^"]*")', condition)
    assert found, f"not a condition this test evaluates: {condition}"
    return bool(result.get(found.group(1)) == json.loads(found.group(2)))


@pytest.mark.parametrize(("version", "outcome"), [
    ("1.4.2", "Successful"), ("1.4.3", "Failed"), ("9.9.9", "Inconclusive")])
def test_argo_analysis_template(service: Service, version: str, outcome: str) -> None:
    template = yaml.safe_load((SERVE / "argo-analysistemplate.yaml").read_text())
    assert template["kind"] == "AnalysisTemplate"
    args = {arg["name"]: arg.get("value") for arg in template["spec"]["args"]}
    args["version"] = version
    [metric] = template["spec"]["metrics"]
    web = metric["provider"]["web"]
    url = re.sub(r"\{\{args\.([\w-]+)\}\}", lambda m: str(args[m.group(1)]), web["url"])
    answer = requests.request(web.get("method", "GET"), local(url, service),
                              timeout=web["timeoutSeconds"])
    assert answer.status_code == 200  # Argo reads the body only from a 200
    assert web["jsonPath"] == "{$}"
    result = answer.json()
    success = argo_condition(metric["successCondition"], result)
    failure = argo_condition(metric["failureCondition"], result)
    got = "Successful" if success else "Failed" if failure else "Inconclusive"
    assert got == outcome


def test_flagger_canary_webhooks(service: Service) -> None:
    canary = yaml.safe_load((SERVE / "flagger-canary.yaml").read_text())
    assert canary["kind"] == "Canary"
    service.mode("pass")
    answers = {}
    for hook in canary["spec"]["analysis"]["webhooks"]:
        assert urlsplit(hook["url"]).path == f"/v1/flagger/{hook['type']}"
        # Flagger's CanaryWebhookPayload, as it POSTs it.
        payload = {"name": canary["metadata"]["name"],
                   "namespace": canary["metadata"]["namespace"], "phase": "Progressing",
                   "checksum": "5c3d1f", "metadata": hook["metadata"]}
        answers[hook["type"]] = requests.post(local(hook["url"], service), json=payload,
                                              timeout=300)
    assert answers["pre-rollout"].status_code == 200
    assert answers["rollout"].status_code == 200, answers["rollout"].text
    assert answers["rollout"].json()["verdict"] == "DEPLOYABLE"  # a fresh run on the canary
    assert answers["confirm-promotion"].status_code == 200
    assert answers["rollback"].status_code == 403  # deployable: no rollback


def test_spinnaker_webhook_stage(service: Service) -> None:
    stage = json.loads((SERVE / "spinnaker-webhook-stage.json").read_text())
    assert stage["type"] == "webhook"

    def call(tag: str) -> requests.Response:
        url = stage["url"].replace("${trigger['tag']}", tag)
        return requests.request(stage["method"], local(url, service),
                                headers=stage["customHeaders"], timeout=60)

    assert call("1.4.2").status_code == 200
    for tag in ("1.4.3", "9.9.9"):
        assert call(tag).status_code in stage["failFastStatusCodes"]


def test_systemd_unit_starts_a_loopback_service_with_writes() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((SERVE / "deployable-serve.service").read_text())
    argv = shlex.split(unit["Service"]["ExecStart"])
    assert Path(argv[0]).name == "deployable"
    args = _parser().parse_args(argv[1:])
    assert args.command == "serve"
    assert is_loopback(args.listen[0])
    assert args.listen == parse_listen("127.0.0.1:8484")
    # The token's variable is the one the EnvironmentFile comment tells to set.
    assert f"{args.token_env}=" in (SERVE / "deployable-serve.service").read_text()
    assert unit["Service"]["RestartPreventExitStatus"].split() == ["2", "3"]


def test_the_runner_script_records_a_verdict(service: Service, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        if IN_CI:
            pytest.fail("curl is missing in CI; .ci/run installs it", pytrace=False)
        pytest.skip("curl is not installed")
    write(tmp_path / "deploy-verdict.json", make_statement("staging", "7.0.0"))
    env = {"PATH": "/usr/bin:/bin", "DEPLOYABLE_SERVE_TOKEN":
           TOKEN, "DEPLOYABLE_SERVE_URL": service.url}
    done = subprocess.run(["sh", str(SERVE / "record-verdict.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["new"] is True
    again = subprocess.run(["sh", str(SERVE / "record-verdict.sh")], cwd=tmp_path, env={
        **env, "DEPLOYABLE_SERVE_TOKEN": "a-wrong-token-0123456789"}, capture_output=True,
        text=True, check=False)
    assert again.returncode != 0
    assert "Bearer" in again.stdout
