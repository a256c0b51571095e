"""A typo cannot silently drop a check: unknown target names and mistyped markers (SPEC §10)."""

from __future__ import annotations

import pytest
from conftest import Server, require

#: This project's own tests turn pytest's unknown-marker warning into an error; a user's
#: run keeps it a warning, which is what these tests are about.
WARN = ("-W", "default::pytest.PytestUnknownMarkWarning")

TARGETS = """
[targets.staging]
base_url = "{url}"

[targets.production]
base_url = "{url}"
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_unknown_only_targets_name_is_a_usage_error(
    pytester: pytest.Pytester, server: Server, workers: str
) -> None:
    if workers != "0":
        require("xdist")
    pytester.path.joinpath("deploy-targets.toml").write_text(TARGETS.format(url=server.url))
    pytester.makepyfile(test_suite="""
        import pytest

        @pytest.mark.smoke
        @pytest.mark.only_targets("stagign")
        def test_staging_only():
            pass

        @pytest.mark.smoke
        def test_health():
            pass
    """)
    result = pytester.runpytest_subprocess("--deploy-target=production", "-n", workers,
                                           "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: test_suite.py::test_staging_only: @pytest.mark.only_targets: unknown target "
        "'stagign' in deploy-targets.toml; did you mean 'staging'? (known: production, staging)"
    ])
    assert "Traceback" not in result.stderr.str()


def test_known_only_targets_names_are_fine(pytester: pytest.Pytester, server: Server) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(TARGETS.format(url=server.url))
    pytester.makepyfile(test_suite="""
        import pytest

        @pytest.mark.smoke
        @pytest.mark.only_targets("staging")
        def test_staging_only():
            pass

        @pytest.mark.smoke
        def test_health():
            pass
    """)
    result = pytester.runpytest("--deploy-target=production", "-p", "no:cacheprovider")
    assert result.ret == 0


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("smoek", "smoke"), ("post_deplyo", "post_deploy"), ("contracts", "contract"),
     ("destrutive", "destructive"), ("only_target", "only_targets"), ("onlyhosts", "only_hosts")],
)
def test_a_mistyped_marker_is_a_usage_error_naming_the_marker_it_resembles(
    pytester: pytest.Pytester, server: Server, typo: str, meant: str
) -> None:
    pytester.makepyfile(test_suite=f"""
        import pytest

        @pytest.mark.smoke
        def test_health():
            pass

        @pytest.mark.{typo}
        def test_typo():
            pass
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider",
                                *WARN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: test_suite.py::test_typo: unknown marker @pytest.mark.{typo}: did you mean "
        f"@pytest.mark.{meant}? A mistyped marker would drop the check from the run"
    ])


def test_other_unknown_markers_keep_pytests_warning(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(test_suite="""
        import pytest

        @pytest.mark.smoke
        @pytest.mark.slow
        def test_health():
            pass
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider",
                                *WARN)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*PytestUnknownMarkWarning: Unknown pytest.mark.slow*"])


def test_a_registered_marker_near_a_name_of_ours_is_left_alone(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    smoker: tests that smoke\n")
    pytester.makepyfile(test_suite="""
        import pytest

        @pytest.mark.smoke
        @pytest.mark.smoker
        def test_health():
            pass
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider")
    assert result.ret == 0


def test_without_a_target_a_typo_is_only_pytests_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="""
        import pytest

        @pytest.mark.smoek
        def test_health():
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", *WARN)
    assert result.ret == 0
