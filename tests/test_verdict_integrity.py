"""The verdict never lies: sticky failures and a fresh verdict file for every run (SPEC §10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, require

from pytest_deployable.cli import main as deployable


def ours(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    result: dict[str, Any] = data["predicate"]["deployability"]
    return result


def gate(path: Path, *args: str) -> int:
    return deployable(["gate", str(path), *args])


LATER_PHASE = """
import pytest

@pytest.fixture
def cleanup():
    yield
    pytest.{how}("cleanup could not run")

@pytest.mark.smoke
def test_broken(http, cleanup):
    assert http.get("/missing").status_code == 200, "the shop is down"

@pytest.mark.smoke
def test_health(http):
    http.get("/health").raise_for_status()
"""


@pytest.mark.parametrize("how", ["skip", "xfail"])
@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_skip_in_teardown_never_hides_a_failure(
    pytester: pytest.Pytester, server: Server, how: str, workers: str
) -> None:
    require("xdist")
    pytester.makepyfile(test_suite=LATER_PHASE.format(how=how))
    result = pytester.runpytest_subprocess(
        f"--deploy-target={server.url}", "-p", "no:cacheprovider", "-n", workers,
        "--deploy-junit=deploy-junit.xml",
    )
    data = ours(pytester.path / "deploy-verdict.json")
    broken = next(c for c in data["checks"] if c["id"] == "test_suite.py::test_broken")
    assert broken["outcome"] == "failed"
    assert "the shop is down" in broken["message"]
    assert data["verdict"] == "NOT_DEPLOYABLE"
    assert result.ret == 1
    assert gate(pytester.path / "deploy-verdict.json") == 1
    junit = (pytester.path / "deploy-junit.xml").read_text()
    assert "<failure " in junit
    assert "the shop is down" in junit
    assert 'message="skipped' not in junit


def test_a_failing_subtest_stays_failed(pytester: pytest.Pytester, server: Server) -> None:
    pytester.makepyfile(test_suite="""
        import unittest
        import pytest

        @pytest.mark.smoke
        class TestShop(unittest.TestCase):
            def test_pages(self):
                for page in ("a", "b", "c"):
                    with self.subTest(page=page):
                        if page == "a":
                            self.fail("page a is broken")
                        if page == "b":
                            self.skipTest("page b is not deployed yet")

        @pytest.mark.smoke
        def test_more(subtests):
            with subtests.test("first"):
                assert False, "first is broken"
            with subtests.test("second"):
                pytest.skip("second is off")
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider")
    data = ours(pytester.path / "deploy-verdict.json")
    outcomes = {c["id"]: c["outcome"] for c in data["checks"]}
    assert outcomes == {"test_suite.py::TestShop::test_pages": "failed",
                        "test_suite.py::test_more": "failed"}, data["checks"]
    assert data["verdict"] == "NOT_DEPLOYABLE"
    assert result.ret == 1


GOOD = """
import pytest

@pytest.mark.smoke
def test_health(http):
    http.get("/health").raise_for_status()
"""


def good_verdict(pytester: pytest.Pytester, server: Server) -> str:
    pytester.makepyfile(test_suite=GOOD)
    first = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider")
    assert first.ret == 0
    return (pytester.path / "deploy-verdict.json").read_text()


def test_a_check_that_ends_the_process_leaves_no_older_verdict_behind(
    pytester: pytest.Pytester, server: Server
) -> None:
    good_verdict(pytester, server)
    pytester.makepyfile(test_exit="""
        import os
        import pytest

        @pytest.mark.smoke
        def test_exits():
            os._exit(0)
    """)
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-p",
                                           "no:cacheprovider")
    assert result.ret == 0  # the process says nothing; the file must
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["verdict"] == "INCONCLUSIVE"
    assert "not finished" in data["reasons"][0]
    assert gate(pytester.path / "deploy-verdict.json") == 6


def test_the_placeholder_is_in_place_while_checks_run(
    pytester: pytest.Pytester, server: Server
) -> None:
    good_verdict(pytester, server)
    pytester.makepyfile(test_peek="""
        import pytest

        @pytest.mark.smoke
        def test_peek():
            with open("deploy-verdict.json") as f, open("seen.json", "w") as out:
                out.write(f.read())
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider")
    assert result.ret == 0
    seen = ours(pytester.path / "seen.json")
    assert seen["verdict"] == "INCONCLUSIVE"
    assert gate(pytester.path / "seen.json") == 6
    assert ours(pytester.path / "deploy-verdict.json")["verdict"] == "DEPLOYABLE"


@pytest.mark.parametrize(
    "option",
    ["--collect-only", "--fixtures", "--fixtures-per-test", "--setup-plan", "--setup-only",
     "--markers"],
)
def test_runs_that_execute_no_check_leave_the_verdict_alone(
    pytester: pytest.Pytester, server: Server, option: str
) -> None:
    before = good_verdict(pytester, server)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider", option)
    assert result.ret == 0
    assert (pytester.path / "deploy-verdict.json").read_text() == before
    (pytester.path / "deploy-verdict.json").unlink()
    pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider", option)
    assert not (pytester.path / "deploy-verdict.json").exists()


def test_another_plugins_failing_sessionfinish_cannot_keep_an_old_verdict(
    pytester: pytest.Pytester, server: Server
) -> None:
    good_verdict(pytester, server)
    pytester.makeconftest("""
        def pytest_sessionfinish(session):
            raise RuntimeError("the other plugin broke")
    """)
    pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-p", "no:cacheprovider")
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["verdict"] == "INCONCLUSIVE"
    assert any("the other plugin broke" in reason for reason in data["reasons"])
    assert gate(pytester.path / "deploy-verdict.json") == 6


def test_an_unwritable_report_makes_the_verdict_inconclusive(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(test_suite=GOOD)
    (pytester.path / "reports").write_text("a file where a directory should be")
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider",
                                "--deploy-junit=reports/junit.xml")
    assert result.ret == 6
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["verdict"] == "INCONCLUSIVE"
    assert any("reports/junit.xml" in reason for reason in data["reasons"]), data["reasons"]
    assert gate(pytester.path / "deploy-verdict.json") == 6


def test_the_verdict_is_written_after_every_other_artifact(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(test_suite=GOOD)
    result = pytester.runpytest(
        f"--deploy-target={server.url}", "-p", "no:cacheprovider", "--deploy-junit=j.xml",
        "--deploy-summary=s.md", "--junitxml=pytest.xml",
    )
    assert result.ret == 0
    verdict = (pytester.path / "deploy-verdict.json").stat().st_mtime_ns
    for name in ("j.xml", "s.md", "pytest.xml"):
        assert (pytester.path / name).stat().st_mtime_ns <= verdict, name
