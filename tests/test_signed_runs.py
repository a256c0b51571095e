"""Signed verdicts from real pytest runs against a real local server, read back and gated."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from _signing import make_keys, payload_of, sslib_public
from conftest import Server, require

from pytest_deployable.cli import main
from pytest_deployable.envelope import read_document
from pytest_deployable.keys import load_public_key

CHECKS = """
import os
import sys
import pytest

@pytest.mark.smoke
@pytest.mark.parametrize("n", range(4))
def test_health(http, n):
    http.get("/health").raise_for_status()

@pytest.mark.contract
def test_catalog(http):
    assert http.get("/health").status_code == 200
"""

#: A check that tries to leak the signing key every way a check can.
LEAKY = """
import os
import sys
import pytest

@pytest.mark.post_deploy(blocking=False)
def test_leaks_the_key():
    pem = os.environ.get("DEPLOYABLE_SIGNING_KEY", "")
    lines = pem.strip().splitlines()
    print("pem", pem)
    print("line", lines[1] if len(lines) > 1 else "", file=sys.stderr)
    assert not pem, "the key: " + pem
"""


@pytest.fixture
def project(pytester: pytest.Pytester, server: Server) -> Path:
    """A project: pytest.ini at its root, a targets file, checks in tests/, keys in keys/."""
    root = pytester.path
    (root / "pytest.ini").write_text("[pytest]\ndeploy_subject = shop\n")
    (root / "deploy-targets.toml").write_text(f'[targets.staging]\nbase_url = "{server.url}"\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_checks.py").write_text(CHECKS)
    (root / "keys").mkdir()
    make_keys(root / "keys")
    return root


def verify(path: Path, pub: Path) -> dict[str, Any]:
    """The statement of a signed verdict file, verified with the independent implementation."""
    require("securesystemslib")
    from securesystemslib.dsse import Envelope

    envelope = json.loads(path.read_text())
    Envelope.from_dict(dict(envelope)).verify([sslib_public(pub)], 1)
    return payload_of(envelope)


def gate(*args: str | Path) -> int:
    return main(["gate", *(str(a) for a in args)])


# -- the key option, both spellings, from another directory -------------------------------


@pytest.mark.parametrize("form", ["--deploy-sign-key=PATH", "--deploy-sign-key PATH"])
def test_both_spellings_sign_from_a_subdirectory(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    work = project / "tests"
    monkeypatch.chdir(work)
    key = "../keys/ci.key"
    option = [f"--deploy-sign-key={key}"] if "=" in form else ["--deploy-sign-key", key]

    result = pytester.runpytest_subprocess("--deploy-target=staging", "-p", "no:cacheprovider",
                                           *option)

    assert result.ret == 0
    result.stdout.fnmatch_lines([f"rootdir: {project}"])
    statement = verify(work / "deploy-verdict.json", project / "keys" / "ci.pub")
    assert statement["predicate"]["deployability"]["verdict"] == "DEPLOYABLE"
    assert statement["subject"][0]["name"] == "shop"  # the ini was read: same rootdir
    assert gate(work / "deploy-verdict.json", "--key", project / "keys" / "ci.pub") == 0


def test_a_key_outside_the_project_needs_the_one_word_spelling(
    pytester: pytest.Pytester, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("secrets")
    make_keys(elsewhere)
    key = str(elsewhere / "ci.key")

    two_words = pytester.runpytest_subprocess("--deploy-target=staging", "-p",
                                              "no:cacheprovider", "--deploy-sign-key", key)

    # pytest took the key's directory for a test path and rooted the run there.
    assert two_words.ret == 4
    error = two_words.stderr.str().strip()
    assert error.startswith(f"ERROR: --deploy-sign-key {key}: written as two words, pytest took "
                            f"{key} into account when it picked the rootdir (")
    assert error.endswith(f"); write --deploy-sign-key={key}")
    assert f"({project})" not in error
    assert not (project / "deploy-verdict.json").exists()

    one_word = pytester.runpytest_subprocess("--deploy-target=staging", "-p",
                                             "no:cacheprovider", f"--deploy-sign-key={key}")
    assert one_word.ret == 0
    one_word.stdout.fnmatch_lines([f"rootdir: {project}"])
    verify(project / "deploy-verdict.json", elsewhere / "ci.pub")


# -- the key in the environment: signed, never leaked, same under xdist -------------------


def test_the_environment_key_signs_leaks_nowhere_and_xdist_signs_the_same(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("xdist")
    (project / "tests" / "test_leaky.py").write_text(LEAKY)
    # Each process says whether it holds a signing key: only the controller may.
    (project / "tests" / "conftest.py").write_text(
        "import pytest\n"
        "from pytest_deployable.signing import SIGN_KEY\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_sessionstart(session):\n"
        "    config = session.config\n"
        "    name = getattr(config, 'workerinput', {}).get('workerid', 'controller')\n"
        "    held = config.stash.get(SIGN_KEY, None) is not None\n"
        "    (config.rootpath / f'holds-key-{name}.txt').write_text(str(held))\n"
    )
    pem = (project / "keys" / "ci.key").read_text()
    monkeypatch.setenv("DEPLOYABLE_SIGNING_KEY", pem)
    pieces = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    statements = {}
    for workers in ("0", "2"):
        result = pytester.runpytest_subprocess(
            "--deploy-target=staging", "-p", "no:cacheprovider", "-n", workers, "-rA",
            "--tb=long", "-s", f"--junitxml=junit-{workers}.xml",
            f"--deploy-junit=gate-{workers}.xml", f"--deploy-verdict=v{workers}.json",
        )
        assert result.ret == 0, result.stdout.str()
        verdict = project / f"v{workers}.json"
        statement = verify(verdict, project / "keys" / "ci.pub")
        statements[workers] = statement
        texts = {
            "stdout": result.stdout.str(), "stderr": result.stderr.str(),
            "verdict": verdict.read_text(), "payload": json.dumps(statement),
            "junit": (project / f"junit-{workers}.xml").read_text(),
            "gate junit": (project / f"gate-{workers}.xml").read_text(),
        }
        leaks = [(name, piece[:8]) for piece in pieces for name, text in texts.items()
                 if piece in text]
        assert leaks == []
        assert "***" in texts["stdout"]  # the check really tried to leak it

    held = {path.name: path.read_text() for path in project.glob("holds-key-*.txt")}
    assert held == {"holds-key-controller.txt": "True", "holds-key-gw0.txt": "False",
                    "holds-key-gw1.txt": "False"}

    def shape(statement: dict[str, Any]) -> Any:
        ours = statement["predicate"]["deployability"]
        return (ours["verdict"], ours["summary"], sorted(
            (c["id"], c["outcome"]) for c in ours["checks"]), statement["subject"])

    assert shape(statements["0"]) == shape(statements["2"])
    assert statements["2"]["predicate"]["deployability"]["verdict"] == "DEPLOYABLE_WITH_WARNINGS"


def test_without_a_key_the_verdict_is_a_bare_statement(
    pytester: pytest.Pytester, project: Path
) -> None:
    result = pytester.runpytest_subprocess("--deploy-target=staging", "-p", "no:cacheprovider")

    assert result.ret == 0
    data = json.loads((project / "deploy-verdict.json").read_text())
    assert data["_type"] == "https://in-toto.io/Statement/v1"
    assert gate(project / "deploy-verdict.json", "--key", project / "keys" / "ci.pub") == 8


@pytest.mark.parametrize(("setup", "message"), [
    (lambda root: os.chmod(root / "keys" / "ci.key", 0o644),
     "the private key is open to group or others (mode 0644); run chmod 600"),
    (lambda root: (root / "keys" / "ci.key").write_text("junk"), "not a PEM private key"),
    (lambda root: (root / "keys" / "ci.key").unlink(), "private key not found"),
])
def test_a_bad_key_is_a_usage_error_and_no_verdict_is_written(
    pytester: pytest.Pytester, project: Path, setup: Any, message: str
) -> None:
    setup(project)

    result = pytester.runpytest_subprocess("--deploy-target=staging", "-p", "no:cacheprovider",
                                           "--deploy-sign-key=keys/ci.key")

    assert result.ret == 4
    error = result.stderr.str().strip()
    assert len(error.splitlines()) == 1
    assert error.startswith("ERROR: --deploy-sign-key: ")
    assert message in error
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (project / "deploy-verdict.json").exists()


def test_a_bad_key_in_the_environment_is_named_not_shown(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYABLE_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n")

    result = pytester.runpytest_subprocess("--deploy-target=staging", "-p", "no:cacheprovider")

    assert result.ret == 4
    assert result.stderr.str().strip() == (
        "ERROR: --deploy-sign-key: DEPLOYABLE_SIGNING_KEY: not a PEM private key that can be read"
    )


# -- artifact binding ---------------------------------------------------------------------


def test_deploy_subject_binds_a_file_and_the_gate_checks_it(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "dist").mkdir()
    wheel = project / "dist" / "shop-1.4.2.whl"
    wheel.write_bytes(b"the artifact")
    digest = hashlib.sha256(b"the artifact").hexdigest()
    monkeypatch.chdir(project / "tests")

    result = pytester.runpytest_subprocess(
        "--deploy-target=staging", "-p", "no:cacheprovider", "--deploy-sign-key=../keys/ci.key",
        "--deploy-subject", "../dist/shop-1.4.2.whl",
    )

    assert result.ret == 0
    verdict = project / "tests" / "deploy-verdict.json"
    statement = verify(verdict, project / "keys" / "ci.pub")
    assert statement["subject"][1] == {"name": "shop-1.4.2.whl", "digest": {"sha256": digest}}
    assert statement["subject"][0]["name"] == "shop"  # from the ini, as before
    pub = project / "keys" / "ci.pub"
    assert gate(verdict, "--key", pub, "--subject", "../dist/shop-1.4.2.whl") == 0
    assert gate(verdict, "--key", pub, "--subject", f"sha256:{digest.upper()}") == 0
    assert gate(verdict, "--key", pub, "--subject", f"registry.example/shop@sha256:{digest}") == 0
    wheel.write_bytes(b"another build")
    assert gate(verdict, "--key", pub, "--subject", "../dist/shop-1.4.2.whl") == 4
    assert gate(verdict, "--subject", "sha256:" + "0" * 64) == 4


def test_a_subject_file_outside_the_project_needs_the_one_word_spelling(
    pytester: pytest.Pytester, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    artifact = tmp_path_factory.mktemp("dist") / "shop.whl"
    artifact.write_bytes(b"bytes")

    two_words = pytester.runpytest_subprocess("--deploy-target=staging", "-p",
                                              "no:cacheprovider", "--deploy-subject",
                                              str(artifact))
    one_word = pytester.runpytest_subprocess("--deploy-target=staging", "-p",
                                             "no:cacheprovider", f"--deploy-subject={artifact}")

    assert two_words.ret == 4
    assert f"write --deploy-subject={artifact}" in two_words.stderr.str()
    assert one_word.ret == 0
    data = json.loads((project / "deploy-verdict.json").read_text())
    assert data["subject"][1]["digest"]["sha256"] == hashlib.sha256(b"bytes").hexdigest()


@pytest.mark.parametrize("value", [
    "registry.example/shop@sha256:" + "ab" * 32,
    "sha256:" + "ab" * 32,
])
def test_deploy_subject_digest_forms(pytester: pytest.Pytester, project: Path, value: str) -> None:
    result = pytester.runpytest_subprocess("--deploy-target=staging", "-p", "no:cacheprovider",
                                           f"--deploy-subject={value}")

    assert result.ret == 0
    data = json.loads((project / "deploy-verdict.json").read_text())
    name = "registry.example/shop" if "@" in value else "shop"
    assert data["subject"][1] == {"name": name, "digest": {"sha256": "ab" * 32}}
    assert data["subject"][0]["name"] == "shop"


@pytest.mark.parametrize(("value", "message"), [
    ("dist/missing.whl", "--deploy-subject 'dist/missing.whl': no such file"),
    ("sha256:abc", "a sha256 digest is 64 hexadecimal digits"),
])
def test_a_bad_deploy_subject_is_a_usage_error(
    pytester: pytest.Pytester, project: Path, value: str, message: str
) -> None:
    result = pytester.runpytest_subprocess("--deploy-target=staging", "-p", "no:cacheprovider",
                                           f"--deploy-subject={value}")

    assert result.ret == 4
    assert message in result.stderr.str()
    assert not (project / "deploy-verdict.json").exists()


def test_read_document_reports_the_signer(project: Path, pytester: pytest.Pytester) -> None:
    pytester.runpytest_subprocess("--deploy-target=staging", "-p", "no:cacheprovider",
                                  "--deploy-sign-key=keys/ci.key")
    pub = load_public_key(project / "keys" / "ci.pub")

    document = read_document(project / "deploy-verdict.json", [pub])

    assert document.signed
    assert document.verified_by is not None
    assert document.verified_by.verified_by == pub.keyid
    assert document.statement["predicate"]["deployability"]["verdict"] == "DEPLOYABLE"


def test_an_artifact_that_goes_away_during_the_run_keeps_its_digest(
    pytester: pytest.Pytester, project: Path
) -> None:
    (project / "dist").mkdir()
    (project / "dist" / "shop.whl").write_bytes(b"built")
    (project / "tests" / "test_cleanup.py").write_text(
        "import pathlib, pytest\n"
        "@pytest.mark.smoke\n"
        "def test_removes_it():\n"
        "    pathlib.Path('dist/shop.whl').unlink()\n"
    )

    result = pytester.runpytest_subprocess("--deploy-target=staging", "-p", "no:cacheprovider",
                                           "--deploy-subject=dist/shop.whl")

    assert result.ret == 0
    data = json.loads((project / "deploy-verdict.json").read_text())
    assert data["subject"][1]["digest"]["sha256"] == hashlib.sha256(b"built").hexdigest()
