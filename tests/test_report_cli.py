"""``deployable metrics`` and ``deployable report`` on a real ledger (SQLite and PostgreSQL).

The ledger is filled through ``deployable record`` and ``record-deployment``; the
tests read back exit codes, the lines printed, and the page written, parsed as HTML.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _report import EVIL, HEALTH, SCRIPT, fill

from pytest_deployable.cli import main


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger with the history of tests/_report.py: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        postgres = request.getfixturevalue("postgres")
        url = postgres.url(postgres.create_database())
    fill(tmp_path, url)
    return url


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEPLOYABLE_LEDGER", raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_metrics_as_json_follow_the_spec(capsys: pytest.CaptureFixture[str],
                                         ledger_url: str) -> None:
    code, out, err = run(capsys, "metrics", "--target", "production", "--ledger", ledger_url,
                         "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["deployments"] == 3
    assert document["deploymentFrequency"]["deploymentDays"] == 2
    assert document["deploymentFrequency"]["perDay"] == pytest.approx(3 / 90)
    # d1 20h after its commit, d2 10h; d3 (the rollback) has no commit time.
    assert document["leadTimeForChanges"]["medianSeconds"] == 15 * 3600
    assert document["changeFailureRate"] == pytest.approx(1 / 3)
    assert document["failedDeploymentRecoveryTime"] == {"medianSeconds": 7200.0,
                                                        "recovered": 1, "unrecovered": 0}
    assert document["reworkRate"] == pytest.approx(1 / 3)
    assert document["performance"]["year"] == 2023
    assert document["performance"]["levels"]["changeFailureRate"] == "low"


def test_metrics_as_text(capsys: pytest.CaptureFixture[str], ledger_url: str) -> None:
    code, out, _ = run(capsys, "metrics", "--target", "production", "--ledger", ledger_url,
                       "--since", "7d")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("DORA metrics of production, ")
    assert "(7 days)" in lines[0]
    assert any(line.split() == ["deployments", "3"] for line in lines)
    assert any("change failure rate" in line and "33.3% (1 failed)  (low)" in line
               for line in lines)
    assert lines[-1] == "  levels: DORA, Accelerate State of DevOps Report 2023 (Google Cloud)"


def test_a_window_before_the_failure_counts_nothing(capsys: pytest.CaptureFixture[str],
                                                    ledger_url: str) -> None:
    code, out, _ = run(capsys, "metrics", "--target", "production", "--ledger", ledger_url,
                       "--since", "2020-01-01T00:00:00Z", "--until", "2020-02-01T00:00:00+01:00",
                       "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["deployments"] == 0
    assert document["until"] == "2020-01-31T23:00:00Z"
    assert document["changeFailureRate"] is None


def test_a_target_never_recorded_is_said_on_stderr(capsys: pytest.CaptureFixture[str],
                                                   ledger_url: str) -> None:
    code, _, err = run(capsys, "metrics", "--target", "prodution", "--ledger", ledger_url)
    assert code == 0
    assert err.strip() == ("deployable metrics: nothing is recorded for target 'prodution' in "
                           "the ledger; its targets are: production, staging")


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "soon"], "invalid --since 'soon'"),
    (["--since", "0s"], "it must be more than 0"),
    (["--until", "2026-01-01T00:00:00"], "give its zone"),
    (["--since", "2026-02-01T00:00:00Z", "--until", "2026-01-01T00:00:00Z"],
     "--since is after --until"),
])
def test_bad_windows_are_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      args: list[str], message: str) -> None:
    code, out, err = run(capsys, "metrics", "--target", "production", "--ledger",
                         f"sqlite:///{tmp_path / 'none.db'}", *args)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_metrics_without_a_ledger_exit_3(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    code, _, err = run(capsys, "metrics", "--target", "production", "--ledger",
                       f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 3
    assert err.startswith("deployable metrics: no ledger at ")
    assert not (tmp_path / "none.db").exists()


class _Page(HTMLParser):
    """The elements and the text of a page, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_writes_one_self_contained_page(capsys: pytest.CaptureFixture[str],
                                               ledger_url: str, tmp_path: Path) -> None:
    code, out, err = run(capsys, "report", "-o", str(tmp_path / "site"), "--ledger", ledger_url)
    assert code == 0, err
    page_path = tmp_path / "site" / "index.html"
    assert out.strip() == f"wrote {page_path}: open file://{page_path.resolve()}"
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["index.html"]
    mode = stat.S_IMODE(page_path.stat().st_mode)
    assert mode & stat.S_IRGRP, "the page is for the team: not private to its owner"
    page = parse(page_path)
    names = [tag for tag, _ in page.tags]
    # Nothing to fetch or run: no script, no stylesheet link, no image, no frame.
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(names)
    assert not [attrs for _, attrs in page.tags if "src" in attrs or "href" in attrs]
    text = "".join(page.text)
    # The hostile check id and message are on the page as text.
    assert EVIL in text
    assert f"GET /health answered 503; {SCRIPT}" in text
    # Each section of SPEC section 14.
    for heading in ("Targets", "Promotion matrix", "DORA metrics", "Verdict history",
                    "Checks that needed help"):
        assert heading in text
    assert names.count("details") == 5
    assert names.count("svg") == 6  # three charts for each of two targets
    assert HEALTH in text
    # A PostgreSQL URL's password is not on the page.
    if "@" in ledger_url:
        password = ledger_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        assert password not in page_path.read_text(encoding="utf-8")


def test_report_into_a_file_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    fill(tmp_path, f"sqlite:///{tmp_path / 'l.db'}")
    code, _, err = run(capsys, "report", "-o", str(tmp_path / "taken"), "--ledger",
                       f"sqlite:///{tmp_path / 'l.db'}")
    assert code == 2
    assert err.strip() == f"deployable report: -o {tmp_path / 'taken'}: not a directory"
    assert (tmp_path / "taken").read_text() == "x"


def test_report_without_jinja2_names_the_extra(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Uninstalling Jinja2 is not possible here; a None entry in sys.modules makes its
    # import fail as it does where the extra is missing.
    monkeypatch.setitem(sys.modules, "jinja2", None)
    code, _, err = run(capsys, "report", "-o", str(tmp_path / "site"), "--ledger",
                       f"sqlite:///{tmp_path / 'l.db'}")
    assert code == 2
    assert err.strip() == ("deployable report: the report page needs the report extra "
                           "(jinja2 is missing): pip install 'pytest-deployable[report]'")
    assert not (tmp_path / "site").exists()


def test_a_failed_report_leaves_the_old_page(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("old page")
    code, _, err = run(capsys, "report", "-o", str(site), "--ledger",
                       f"sqlite:///{tmp_path / 'missing.db'}")
    assert code == 3
    assert "no ledger at" in err
    assert (site / "index.html").read_text() == "old page"
    assert os.listdir(site) == ["index.html"]


def test_an_empty_ledger_makes_a_page_that_says_so(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["ledger", "upgrade", "--ledger", url]) == 0
    code, _, err = run(capsys, "report", "-o", str(tmp_path / "site"), "--ledger", url)
    assert code == 0, err
    text = "".join(parse(tmp_path / "site" / "index.html").text)
    assert "Nothing is recorded in this ledger yet." in text
    assert "No verdict is recorded yet." in text
    assert "No deployment is recorded in the window." in text


def test_render_report_is_the_page_of_an_open_ledger(tmp_path: Path) -> None:
    from pytest_deployable.ledger.store import Ledger
    from pytest_deployable.ledger.urls import resolve
    from pytest_deployable.report import render_report

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    fill(tmp_path, url)
    ledger = Ledger.open(resolve(url, targets_file=None, cwd=tmp_path), write=False)
    try:
        page = render_report(ledger)
    finally:
        ledger.close()
    assert page.startswith("<!DOCTYPE html>")
    assert EVIL not in page  # escaped, never raw
    assert EVIL.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;") in page


def test_report_with_a_window_in_the_future_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "report", "-o", str(tmp_path / "site"), "--since",
                       "2999-01-01T00:00:00Z", "--ledger", f"sqlite:///{tmp_path / 'l.db'}")
    assert code == 2
    assert err.strip() == ("deployable report: --since 2999-01-01T00:00:00Z is in the future: "
                           "the window would end before it starts")
    assert not (tmp_path / "site").exists()


def test_a_fix_on_another_target_is_read_from_the_ledger(capsys: pytest.CaptureFixture[str],
                                                         ledger_url: str) -> None:
    # d1 (production, succeeded) is fixed by a hotfix recorded on production-eu.
    assert main(["record-deployment", "--target", "production-eu", "--version", "1.0.1",
                 "--remediates", "d1", "--ledger", ledger_url]) == 0
    code, out, _ = run(capsys, "metrics", "--target", "production", "--ledger", ledger_url,
                       "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["deployments"] == 3
    assert document["failedDeployments"] == 2
    assert document["changeFailureRate"] == pytest.approx(2 / 3)
