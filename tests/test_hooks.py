"""Extending the gate from conftest.py through the plugin's own hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Server


def test_target_resolved_and_verdict_hooks(
    pytester: pytest.Pytester, server: Server, verdict_of: Callable[..., dict[str, Any]]
) -> None:
    pytester.makeconftest("""
        from pytest_deployable import Amendment, Decision

        seen = []

        def pytest_deployable_target_resolved(config, target):
            seen.append(target.name)

        def pytest_deployable_verdict(config, verdict):
            assert seen, "target hook ran first"
            return Amendment("change freeze until Monday", Decision.NOT_DEPLOYABLE)
    """)
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*NOT_DEPLOYABLE*", "*change freeze until Monday*"])
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    assert ext["reasons"] == ["change freeze until Monday"]


def test_a_hook_cannot_upgrade_a_verdict(
    pytester: pytest.Pytester, server: Server, verdict_of: Callable[..., dict[str, Any]]
) -> None:
    pytester.makeconftest("""
        from pytest_deployable import Amendment, Decision

        def pytest_deployable_verdict(config, verdict):
            return Amendment("ship it anyway", Decision.DEPLOYABLE)
    """)
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_bad(): assert False\n")
    assert pytester.runpytest(f"--deploy-target={server.url}").ret == 1
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    assert ext["reasons"][-1] == "ship it anyway"


def test_check_spec_hook_classifies_unmarked_tests(
    pytester: pytest.Pytester, server: Server, verdict_of: Callable[..., dict[str, Any]]
) -> None:
    pytester.makeconftest("""
        from pytest_deployable import CheckSpec

        def pytest_deployable_check_spec(item, spec):
            if spec is None and item.name.startswith("test_probe_"):
                return CheckSpec(category="post_deploy", blocking=False)
            return None
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_ok(): pass

        def test_probe_latency(): pass

        def test_unit(): pass
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*2 passed, 1 deselected*"])
    checks = verdict_of()["predicate"]["deployability"]["checks"]
    assert [(c["id"].split("::")[1], c["category"], c["blocking"]) for c in checks] == [
        ("test_ok", "smoke", True), ("test_probe_latency", "post_deploy", False)
    ]
