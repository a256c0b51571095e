"""What keeps the suite light stays in place: the plugins child pytests skip, the scheduler.

See "Test suite speed" in docs/development.md. These count plugins and units of work, never
seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _scheduling import ONE_WORKER, scope_of

TESTS = Path(__file__).parent


def test_a_listed_module_is_one_unit_and_any_other_test_is_its_own() -> None:
    assert scope_of("tests/test_metrics.py::test_a[x]") == "tests/test_metrics.py"
    assert scope_of("tests/test_metrics.py::TestA::test_b") == "tests/test_metrics.py"
    assert scope_of("tests/test_verdict.py::test_a[x]") == "tests/test_verdict.py::test_a[x]"
    # a parameter that looks like a listed path does not move a test into its unit
    assert scope_of("tests/test_x.py::test_a[a/test_demo.py]") == (
        "tests/test_x.py::test_a[a/test_demo.py]")


@pytest.mark.parametrize("module", sorted(ONE_WORKER))
def test_every_listed_module_exists(module: str) -> None:
    assert (TESTS / module).is_file(), f"{module} was renamed: update _scheduling.ONE_WORKER"


def test_a_pytest_a_test_starts_loads_neither_hypothesis_nor_anyio(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("""
        import sys

        def test_what_is_loaded(request):
            manager = request.config.pluginmanager  # a blocked plugin is listed as None
            names = {name for name, plugin in manager.list_name_plugin() if plugin is not None}
            assert "deployable" in names  # the plugin under test still loads
            assert "hypothesispytest" not in names and "anyio" not in names
            assert "hypothesis" not in sys.modules
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
