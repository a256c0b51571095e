"""``only_hosts`` names that select nothing are usage errors, not silent "not applicable"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

WEB1, WEB2, DB = "local://?controlpersist=1", "local://?controlpersist=2", "local://"

TARGETS = f"""
[targets.fleet]
hosts = []
[targets.fleet.roles]
web = {json.dumps([WEB1, WEB2])}
db = {json.dumps([DB])}

[targets.bigger]
hosts = ["ssh://deploy@queue1.internal"]
[targets.bigger.roles]
queue = ["ssh://deploy@queue2.internal"]
"""


def run(pytester: pytest.Pytester, marker: str, workers: str,
        targets: str = TARGETS) -> pytest.RunResult:
    pytester.path.joinpath("deploy-targets.toml").write_text(targets)
    pytester.makepyfile(test_roles=f"""
        import pytest

        @pytest.mark.smoke
        def test_everywhere(host):
            pass

        @pytest.mark.smoke
        @pytest.mark.only_hosts({marker})
        def test_chosen(host):
            pass
    """)
    return pytester.runpytest_subprocess("--deploy-target=fleet", "-n", workers,
                                         "-p", "no:cacheprovider")


def verdict(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(pytester.path, "deploy-verdict.json").read_text())
    return data["predicate"]["deployability"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("workers", ["0", "2"])
@pytest.mark.parametrize(("marker", "message"), [
    ('"wbe"', "only_hosts('wbe'): no role or host in * has that name; did you mean 'web'?"),
    ('"db", "cahce"', "only_hosts('cahce'): no role or host in * has that name; "
                      "known roles: db, queue, web"),
    ('"10.0.*"', "only_hosts('10.0.*'): no role or host in * has that name; known roles: *"),
])
def test_a_name_no_target_defines_is_a_usage_error(
    pytester: pytest.Pytester, workers: str, marker: str, message: str
) -> None:
    result = run(pytester, marker, workers)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    result.stderr.fnmatch_lines([f"ERROR: test_roles.py::test_chosen: @pytest.mark.{message}"])
    # The run had started (SPEC §10's placeholder), so what stands is INCONCLUSIVE, never a pass.
    verdict = json.loads((pytester.path / "deploy-verdict.json").read_text())
    assert verdict["predicate"]["deployability"]["verdict"] == "INCONCLUSIVE"


#: ``only_hosts`` names that select, each with what its check must show; one check each,
#: all in one run per worker mode (the names do not interact; a run costs a process).
SELECTING = {
    '"queue"': "not applicable here",
    '"queue*.internal"': "not applicable here",
    '"web"': "the two web hosts",
    '"local"': "all three local hosts (a glob on the host name: all are named local)",
}


EVERYWHERE = """import pytest

@pytest.mark.smoke
def test_everywhere(host):
    pass
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_name_another_target_defines_is_not_applicable_here_and_known_names_select(
    pytester: pytest.Pytester, workers: str
) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(TARGETS)
    pytester.makepyfile(test_roles=EVERYWHERE + "".join(f"""
@pytest.mark.smoke
@pytest.mark.only_hosts({marker})
def test_chosen_{index}(host):
    pass
""" for index, marker in enumerate(SELECTING)))
    result = pytester.runpytest_subprocess("--deploy-target=fleet", "-n", workers,
                                           "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    ext = verdict(pytester)
    assert ext["verdict"] == "DEPLOYABLE"
    for index, marker in enumerate(SELECTING):
        chosen = [c for c in ext["checks"] if f"test_chosen_{index}[" in c["id"]]
        if marker.startswith('"queue'):
            assert [c["outcome"] for c in chosen] == ["notApplicable"], marker
        elif marker == '"web"':
            assert [c["host"] for c in chosen] == ["local", "local#2"], marker
            assert {c["outcome"] for c in chosen} == {"passed"}, marker
        else:
            assert len(chosen) == 3, marker
            assert {c["outcome"] for c in chosen} == {"passed"}, marker


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_role_declared_empty_is_a_usage_error(pytester: pytest.Pytester, workers: str) -> None:
    result = run(pytester, '"cache"', workers, TARGETS + "cache = []\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: *deploy-targets.toml: targets.bigger.roles.cache is empty: list its hosts, "
        "or leave the role out where a target has none",
    ])


def test_an_ad_hoc_url_target_has_no_file_to_check_names_against(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_roles="""
        import pytest

        @pytest.mark.smoke
        def test_plain():
            pass

        @pytest.mark.smoke
        @pytest.mark.only_hosts("web")
        def test_web(host):
            pass
    """)
    result = pytester.runpytest("--deploy-target=http://127.0.0.1:1")
    assert result.ret == 0, result.stdout.str()
    ext = verdict(pytester)
    assert {c["id"].split("::")[1]: c["outcome"] for c in ext["checks"]} == {
        "test_plain": "passed", "test_web[no-host]": "notApplicable",
    }
