"""Bad input: one clear line naming the file, key or option; exit code 4; no traceback."""

from __future__ import annotations

import pytest
from conftest import Server

CHECK = "import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n"


def assert_usage_error(result: pytest.RunResult, *expected: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors, result.stderr.str()
    for text in expected:
        assert text in errors[0], errors[0]
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def targets(pytester: pytest.Pytester, text: str) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(text)


def test_unknown_target_lists_the_known_ones(pytester: pytest.Pytester) -> None:
    targets(pytester, '[targets.staging]\nbase_url = "http://127.0.0.1:1"\n'
                      '[targets.production]\nbase_url = "https://shop.example"\n')
    pytester.makepyfile(CHECK)
    result = pytester.runpytest("--deploy-target=stagin")
    assert_usage_error(result, "unknown deploy target 'stagin'",
                       "known targets: production, staging")
    assert not (pytester.path / "deploy-verdict.json").exists()


def test_malformed_toml_names_file_and_line(pytester: pytest.Pytester) -> None:
    targets(pytester, '[targets.staging]\nbase_url = "http://127.0.0.1:1"\ntimeout = = 3\n')
    pytester.makepyfile(CHECK)
    result = pytester.runpytest("--deploy-target=staging")
    assert_usage_error(result, "deploy-targets.toml: invalid TOML", "line 3")


def test_missing_variable_is_named(pytester: pytest.Pytester,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    targets(pytester, '[targets.staging]\nbase_url = "http://127.0.0.1:1"\n'
                      'headers = { Authorization = "Bearer ${NOT_SET_TOKEN}" }\n')
    pytester.makepyfile(CHECK)
    result = pytester.runpytest("--deploy-target=staging")
    assert_usage_error(result, "deploy-targets.toml", "targets.staging.headers.Authorization",
                       "NOT_SET_TOKEN is not set")


def test_unknown_key_is_named(pytester: pytest.Pytester) -> None:
    targets(pytester, '[targets.production]\nbase_url = "https://x"\nprotect = true\n')
    pytester.makepyfile(CHECK)
    result = pytester.runpytest("--deploy-target=production")
    assert_usage_error(result, "targets.production: unknown key 'protect'", "protected")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ftp://shop.example", "is not an http(s) URL with a host"),
        ("http://", "is not an http(s) URL with a host"),
        ("not a name", "is neither a target name"),
    ],
)
def test_bad_target_option(pytester: pytest.Pytester, value: str, expected: str) -> None:
    pytester.makepyfile(CHECK)
    result = pytester.runpytest(f"--deploy-target={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "argument --deploy-target" in result.stderr.str()
    assert expected in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_no_targets_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CHECK)
    result = pytester.runpytest("--deploy-target=staging")
    assert_usage_error(result, "no deploy-targets.toml", "--deploy-targets-file")


def test_missing_targets_file_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CHECK)
    result = pytester.runpytest("--deploy-target=staging", "--deploy-targets-file=nope.toml")
    assert_usage_error(result, "nope.toml: targets file not found")


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("smoke(blockng=False)", "got an unexpected keyword argument 'blockng'"),
        ("smoke(blocking='no')", "blocking must be True or False"),
        ("contract(False)", "too many positional arguments; it takes contract(blocking=True, "),
        ("only_targets()", "needs at least one target name"),
        ("destructive('yes')", "too many positional arguments; it takes destructive"),
    ],
)
def test_unknown_marker_argument(
    pytester: pytest.Pytester, server: Server, marker: str, expected: str
) -> None:
    pytester.makepyfile(f"import pytest\n@pytest.mark.smoke\n@pytest.mark.{marker}\n"
                        "def test_x(): pass\n")
    result = pytester.runpytest(f"--deploy-target={server.url}")
    name = marker.split("(")[0]
    assert_usage_error(result, f"::test_x: @pytest.mark.{name}:", expected)
