"""A worker crash under ``--dist loadgroup`` cannot hang the run: the crash watchdog ends it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Server, require

GROUPS = """
import os
import pytest

@pytest.mark.smoke
@pytest.mark.xdist_group("a")
@pytest.mark.parametrize("n", range(3))
def test_a(n):
    if n == 1:
        os._exit(3)

@pytest.mark.smoke
@pytest.mark.xdist_group("b")
@pytest.mark.parametrize("n", range(3))
def test_b(n):
    pass
"""


def test_a_worker_crash_under_loadgroup_ends_within_the_grace_with_a_verdict(
    pytester: pytest.Pytester, server: Server
) -> None:
    require("xdist")
    pytester.makepyfile(GROUPS)
    # Without the watchdog this run never ends (pytest-xdist 3.8 waits for group
    # work no worker does); the subprocess timeout only keeps a failing test finite.
    result = pytester.runpytest_subprocess(
        f"--deploy-target={server.url}", "-n", "2", "--dist", "loadgroup",
        "--deploy-crash-grace=2s", "-p", "no:cacheprovider", timeout=120,
    )
    assert result.ret in (1, 6), result.stdout.str()
    data: dict[str, Any] = json.loads((pytester.path / "deploy-verdict.json").read_text())
    ext = data["predicate"]["deployability"]
    assert ext["verdict"] in ("NOT_DEPLOYABLE", "INCONCLUSIVE")
    assert any(reason.startswith("worker gw") and reason.endswith(" crashed")
               for reason in ext["reasons"])
    # The scheduler stalls after the crash nearly every time here, and then the watchdog
    # ended the run. Once in a while (seen under load in CI) xdist hands the group on and
    # the run ends by itself: then a check of the crashed worker's group never ran.
    stalled = any(reason.startswith("time budget ran out: --deploy-crash-grace 2s: no check "
                                    "finished in the 2s after worker gw")
                  for reason in ext["reasons"])
    assert stalled or any(reason.startswith("1 blocking check did not run")
                          for reason in ext["reasons"]), ext["reasons"]
    crashed = next(c for c in ext["checks"] if c["id"].endswith("test_a[1]"))
    assert crashed["outcome"] in ("error", "failed", "notRun")
    if "INTERNALERROR>" not in result.stdout.str():
        # (xdist 3.8's loadgroup scheduler itself can die after two crashes, with a KeyError
        # in _assign_work_unit: then pytest prints no summary, and the verdict file above,
        # INCONCLUSIVE or NOT_DEPLOYABLE, is what stands.)
        result.stdout.fnmatch_lines(["*= deployability: * =*", "verdict file: *"])


def test_the_grace_is_a_duration_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    result = pytester.runpytest("--deploy-target=http://127.0.0.1:1", "--deploy-crash-grace=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--deploy-crash-grace*must be longer than zero*"])
