"""``_scheduling``: the modules with a server of their own run whole on one xdist worker."""

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
