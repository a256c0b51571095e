"""The fault matrix, run side: concurrent writers, vanishing files, one bad file among many."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import IN_CI, Server


def test_two_runs_writing_one_verdict_path_leave_one_whole_file(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(
        test_a="import pytest\n@pytest.mark.smoke\n"
               "@pytest.mark.parametrize('n', range(30))\ndef test_ok(n): pass\n",
    )
    command = [sys.executable, "-m", "pytest", f"--deploy-target={server.url}", "-q",
               "-p", "no:cacheprovider", "--deploy-verdict=shared/verdict.json"]
    runs = [subprocess.Popen([*command, f"--deploy-version=run{i}"], cwd=pytester.path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for i in range(2)]
    assert [run.wait(timeout=120) for run in runs] == [0, 0]
    data = json.loads((pytester.path / "shared" / "verdict.json").read_text())
    ext = data["predicate"]["deployability"]
    assert ext["version"] in ("run0", "run1")  # one run's file, whole
    assert ext["summary"]["passed"] == 30
    leftovers = [p.name for p in (pytester.path / "shared").iterdir()]
    assert leftovers == ["verdict.json"]  # no temporary file left behind


def test_a_check_that_deletes_the_targets_file_does_not_break_the_verdict(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.local]\nbase_url = "{server.url}"\n'
    )
    pytester.makepyfile("""
        import pathlib
        import pytest

        @pytest.mark.smoke
        def test_cleans_up(deploy_target):
            pathlib.Path("deploy-targets.toml").unlink()
            pathlib.Path("conftest.py").unlink()

        @pytest.mark.smoke
        def test_after(http):
            http.get("/health").raise_for_status()
    """)
    pytester.makeconftest("")
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 0
    data = json.loads((pytester.path / "deploy-verdict.json").read_text())
    configuration = data["predicate"]["configuration"][0]
    assert configuration["name"] == "deploy-targets.toml"
    assert len(configuration["digest"]["sha256"]) == 64  # taken when the file was read
    assert data["predicate"]["deployability"]["verdict"] == "DEPLOYABLE"


def test_one_bad_file_among_many_is_inconclusive_and_named(
    pytester: pytest.Pytester, server: Server
) -> None:
    files = {f"test_ok{i}": "import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n"
             for i in range(6)}
    files["test_broken"] = "import pytest\n@pytest.mark.smoke\ndef test_x(:\n"
    pytester.makepyfile(**files)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 6
    result.stdout.fnmatch_lines(["*ERROR collecting test_broken.py*"])
    ext = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]
    assert ext["verdict"] == "INCONCLUSIVE"
    assert "1 collection error: checks may be missing" in ext["reasons"]


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs mounted for the test and filled up: writing there fails with ENOSPC."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        if IN_CI:  # CI runs as root, where mounting works: not being able to is a failure
            pytest.fail(f"cannot mount a tmpfs in CI: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        (mount / "deploy-verdict.json").write_text('{"old": "verdict"}')
        with contextlib.suppress(OSError), (mount / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_a_clear_error_and_leaves_the_old_file_whole(
    pytester: pytest.Pytester, server: Server, full_disk: Path
) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    verdict = full_disk / "deploy-verdict.json"
    result = pytester.runpytest(f"--deploy-target={server.url}", f"--deploy-verdict={verdict}")
    assert result.ret == 6
    assert "ERROR: cannot write" in result.stderr.str()
    assert "No space left on device" in result.stderr.str()
    assert verdict.read_text() == '{"old": "verdict"}'
    assert sorted(p.name for p in full_disk.iterdir()) == ["deploy-verdict.json", "filler"]


def test_a_collection_error_is_not_reported_as_an_interrupt(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(test_a="import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n",
                        test_b="import not_a_module_anywhere\n")
    assert pytester.runpytest(f"--deploy-target={server.url}").ret == 6
    reasons = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]["reasons"]
    assert "1 collection error: checks may be missing" in reasons
    assert not any("interrupted" in reason for reason in reasons), reasons
