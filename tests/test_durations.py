"""Durations everywhere accept ``ms`` and fractions, through one parser (SPEC §10)."""

from __future__ import annotations

import pytest
from conftest import Server

from pytest_deployable.durations import format_interval, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45", 45.0), ("0.5", 0.5), ("90s", 90.0), ("1.5s", 1.5), ("250ms", 0.25),
     ("2m30s", 150.0), ("1h30m", 5400.0), ("1d", 86400.0), ("1m 500ms", 60.5),
     ("2.5m", 150.0), ("1s250ms", 1.25), (" 5s ", 5.0)],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ms", "5 parsecs", "30s2m", "1.s", "-5s", "5msms", "nan",
                                  "inf", "1e400"])
def test_bad_durations_say_what_is_right(text: str) -> None:
    with pytest.raises(ValueError, match="units d, h, m, s, ms"):
        parse_duration(text)


def test_short_intervals_are_shown_in_milliseconds() -> None:
    assert format_interval(0.25) == "250ms"
    assert format_interval(0.5) == "0.5s"
    assert format_interval(1.5) == "1.5s"
    assert format_interval(150) == "2m 30s"


def test_milliseconds_in_markers_and_the_targets_file(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.local]\nbase_url = "{server.url}"\ntimeout = "1.5s"\n'
    )
    pytester.makepyfile(test_suite="""
        import pytest
        from pathlib import Path

        @pytest.mark.post_deploy(within="30s", every="200ms")
        def test_settles(deploy_target):
            assert deploy_target.timeout == 1.5
            counter = Path("tries")
            tries = int(counter.read_text()) + 1 if counter.exists() else 1
            counter.write_text(str(tries))
            assert tries >= 3, "not yet"

        @pytest.mark.smoke
        def test_eventually(eventually):
            calls = []
            def ready():
                calls.append(1)
                assert len(calls) >= 2
            eventually(ready, within="30s", every="100ms")
    """)
    result = pytester.runpytest("--deploy-target=local", "-p", "no:cacheprovider",
                                "--deploy-budget=2m30s")
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / "tries").read_text() == "3"


def test_a_bad_target_timeout_names_the_key(pytester: pytest.Pytester, server: Server) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.local]\nbase_url = "{server.url}"\ntimeout = "soon"\n'
    )
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_x(): pass\n")
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*targets.local.timeout must be*duration*not 'soon'*"])
