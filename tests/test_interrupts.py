"""Fail closed: interrupts, signals and internal errors never end DEPLOYABLE; the file is whole."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Server, wait_for

VerdictOf = Callable[..., dict[str, Any]]


def test_keyboard_interrupt_mid_run_is_inconclusive(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_first(http):
            http.get("/health").raise_for_status()

        @pytest.mark.contract
        def test_interrupted():
            raise KeyboardInterrupt

        @pytest.mark.post_deploy
        def test_never_reached():
            pass
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 6
    result.stdout.fnmatch_lines(["*= deployability: INCONCLUSIVE =*"])
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "INCONCLUSIVE"
    assert "the run was interrupted: KeyboardInterrupt (Ctrl-C)" in ext["reasons"]
    assert [c["outcome"] for c in ext["checks"]] == ["passed", "notRun", "notRun"]
    assert ext["summary"]["notRun"] == 2


def test_sigterm_mid_check_writes_an_inconclusive_verdict(
    pytester: pytest.Pytester, server: Server
) -> None:
    started = pytester.path / "started"
    pytester.makepyfile(f"""
        import pathlib, time
        import pytest

        @pytest.mark.smoke
        def test_ok(http):
            http.get("/health").raise_for_status()

        @pytest.mark.smoke
        def test_slow():
            pathlib.Path({str(started)!r}).write_text("yes")
            time.sleep(60)
    """)
    with subprocess.Popen(
        [sys.executable, "-m", "pytest", f"--deploy-target={server.url}", "-p",
         "no:cacheprovider"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as proc:
        assert wait_for(started.exists, timeout=30), "the check never started"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 6, output
    assert "deployability: INCONCLUSIVE" in output
    ext = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]
    assert ext["verdict"] == "INCONCLUSIVE"
    assert "the run was interrupted: received SIGTERM" in ext["reasons"]
    assert [c["outcome"] for c in ext["checks"]] == ["passed", "notRun"]


def test_an_internal_error_is_inconclusive(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makeconftest("""
        def pytest_runtest_logfinish(nodeid, location):
            raise RuntimeError("a plugin broke")
    """)
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 6
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "INCONCLUSIVE"
    assert any(r.startswith("internal error:") and "a plugin broke" in r
               for r in ext["reasons"]), ext["reasons"]


def test_pytest_exit_is_inconclusive(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_ok():
            pass

        @pytest.mark.smoke
        def test_bails_out():
            pytest.exit("giving up", returncode=0)
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 6
    assert "the run was interrupted: pytest.exit: giving up" in (
        verdict_of()["predicate"]["deployability"]["reasons"]
    )


def test_stopping_early_with_maxfail_is_not_deployable_and_lists_what_did_not_run(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_fails():
            assert False

        @pytest.mark.contract
        def test_not_reached():
            pass
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-x")
    assert result.ret == 1
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    assert [c["outcome"] for c in ext["checks"]] == ["failed", "notRun"]
