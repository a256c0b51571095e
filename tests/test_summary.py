"""The text and Markdown summaries, rendered from statements built by the real verdict chain."""

from __future__ import annotations

import re

import pytest
from _verdicts import COMMIT, STAGING, check, statement

from pytest_deployable.summary import category_counts, render_markdown, render_text
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Decision, Outcome, RunFacts

# Every outcome, in every category, with a blocking failure: NOT_DEPLOYABLE.
EVERY_OUTCOME = [
    check("test_health", Outcome.PASSED),
    check("test_login", Outcome.FAILED, attempts=3, message="assert 503 == 200\n+ where 503"),
    check("test_db", Outcome.ERROR, message="ConnectionError: db timed out"),
    check("test_schema", Outcome.PASSED, category="contract", attempts=2),
    check("test_latency", Outcome.FAILED, category="contract", blocking=False, message="slow"),
    check("test_cleanup", Outcome.REFUSED, category="contract", message="destructive"),
    check("test_canary", Outcome.SKIPPED, category="post_deploy", message="canary disabled"),
    check("test_eu", Outcome.NOT_APPLICABLE, category="post_deploy", message="staging only"),
    check("test_soak", Outcome.NOT_RUN, category="unknown"),
]


def section(text: str, title: str) -> list[str]:
    """The indented lines under a section title of the text summary."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return lines[start:end]


def test_category_counts_put_each_check_in_one_bucket() -> None:
    counts = category_counts(statement(EVERY_OUTCOME))

    assert list(counts) == ["smoke", "contract", "post_deploy", "unknown"]
    assert counts["smoke"] == {
        "passed": 1, "failed": 1, "errors": 1, "warned": 0, "skipped": 0,
        "refused": 0, "notApplicable": 0, "notRun": 0,
    }  # fmt: skip
    # The advisory failure and the blocking pass on a rerun are warnings, nothing else.
    assert counts["contract"]["warned"] == 2
    assert counts["contract"]["passed"] == counts["contract"]["failed"] == 0
    assert counts["contract"]["refused"] == 1
    assert counts["post_deploy"]["skipped"] == counts["post_deploy"]["notApplicable"] == 1
    assert counts["unknown"]["notRun"] == 1
    assert sum(sum(bucket.values()) for bucket in counts.values()) == len(EVERY_OUTCOME)


def test_category_counts_advisory_error_warns_and_advisory_rerun_passes() -> None:
    counts = category_counts(
        statement(
            [
                check("test_ok", Outcome.PASSED),
                check("test_adv_error", Outcome.ERROR, blocking=False),
                check("test_adv_rerun", Outcome.PASSED, blocking=False, attempts=2),
            ]
        )
    )

    assert counts["smoke"]["warned"] == 1
    assert counts["smoke"]["errors"] == 0
    assert counts["smoke"]["passed"] == 2


def test_category_counts_always_name_the_three_categories() -> None:
    counts = category_counts(statement([]))

    assert list(counts) == ["smoke", "contract", "post_deploy"]
    assert all(sum(bucket.values()) == 0 for bucket in counts.values())


def test_text_not_deployable_shows_verdict_evidence_and_failures() -> None:
    text = render_text(statement(EVERY_OUTCOME))
    lines = text.splitlines()

    assert lines[0] == "verdict   NOT_DEPLOYABLE"
    assert lines[1] == f"subject   shop-api 1.4.2 (commit {COMMIT})"
    assert lines[2] == "target    production  https://shop.example  PROTECTED"
    assert lines[3] == "time      2026-01-01T12:00:00Z, took 41s"
    reasons = section(text, "reasons")
    assert reasons[0] == "  - 2 blocking checks failed: tests/deploy/test_smoke.py::test_login,"
    assert "  - 1 advisory check failed: tests/deploy/test_contract.py::test_latency" in reasons
    assert section(text, "checks") == [
        "  smoke        1 passed, 1 failed, 1 error",
        "  contract     2 warned, 1 refused",
        "  post_deploy  1 skipped, 1 not applicable",
        "  unknown      1 not run",
    ]


def test_text_lists_checks_that_did_not_pass_cleanly_blocking_failures_first() -> None:
    listed = section(render_text(statement(EVERY_OUTCOME)), "not passed cleanly")

    entries = [line.split()[0:2] for line in listed if not line.startswith(" " * 18)]
    assert [word for word, _ in entries] == [
        "failed", "error", "not", "passed", "failed", "skipped", "refused", "not",
    ]  # fmt: skip
    assert (
        listed[0] == "  failed          tests/deploy/test_smoke.py::test_login  [smoke, 3 attempts]"
    )
    # Only the first line of a multi-line message, under its check.
    assert listed[1].strip() == "assert 503 == 200"
    assert "+ where 503" not in "\n".join(listed)
    assert any("test_latency  [contract, advisory]" in line for line in listed)
    assert any(line.startswith("  not applicable  ") for line in listed)
    assert not any("test_health" in line for line in listed)


def test_text_deployable_is_short() -> None:
    text = render_text(
        statement(
            [
                check("test_health", Outcome.PASSED),
                check("test_api", Outcome.PASSED, category="contract"),
            ],
            target=STAGING,
        )
    )

    assert text.splitlines()[0] == "verdict   DEPLOYABLE"
    assert "target    staging  https://staging.shop.example\n" in text
    assert "PROTECTED" not in text
    assert "reasons" not in text
    assert "not passed cleanly" not in text
    assert section(text, "checks") == [
        "  smoke        1 passed",
        "  contract     1 passed",
        "  post_deploy  no checks",
    ]


def test_text_deployable_with_warnings_names_the_warning() -> None:
    text = render_text(
        statement(
            [
                check("test_health", Outcome.PASSED),
                check("test_slow", Outcome.FAILED, blocking=False),
            ]
        )
    )

    assert text.startswith("verdict   DEPLOYABLE_WITH_WARNINGS\n")
    assert section(text, "reasons") == [
        "  - 1 advisory check failed: tests/deploy/test_smoke.py::test_slow"
    ]
    assert "  smoke        1 passed, 1 warned" in text.splitlines()


def test_text_inconclusive_without_checks_or_version() -> None:
    text = render_text(
        statement([], RunFacts(interrupted="KeyboardInterrupt"), version=None, commit=None)
    )

    assert text.startswith("verdict   INCONCLUSIVE\n")
    assert "subject   shop-api (no version given)\n" in text
    assert "commit" not in text
    assert section(text, "reasons") == [
        "  - the run was interrupted: KeyboardInterrupt",
        "  - no check was selected for this target",
    ]
    assert "  contract     no checks" in text.splitlines()


def test_text_names_an_adhoc_url_target_once() -> None:
    target = Target("http://127.0.0.1:8000", "http://127.0.0.1:8000")
    text = render_text(statement([check("test_health", Outcome.PASSED)], target=target))

    assert "target    http://127.0.0.1:8000\n" in text


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0s"), (41, "41s"), (125, "2m 05s"), (3723, "1h 02m 03s")]
)
def test_text_shows_run_duration(seconds: int, shown: str) -> None:
    text = render_text(statement([check("test_health", Outcome.PASSED)], seconds=seconds))

    assert f", took {shown}\n" in text


def test_text_lines_stay_within_100_characters() -> None:
    long_message = "HTTP 503 from upstream " * 20
    checks = [check(f"test_{i}", Outcome.FAILED, message=long_message) for i in range(8)]
    text = render_text(statement(checks))

    assert max(len(line) for line in text.splitlines()) <= 100
    assert "..." in text
    # Wrapped, not cut: every failed check is still named in the reasons.
    assert "test_4 and 3 more" in " ".join(section(text, "reasons"))


def test_text_caps_the_list_of_checks() -> None:
    checks = [check(f"test_{i}", Outcome.SKIPPED) for i in range(5)]
    text = render_text(statement([check("test_ok", Outcome.PASSED), *checks]), max_checks=2)

    listed = section(text, "not passed cleanly")
    assert len(listed) == 3
    assert listed[-1] == "  ... and 3 more in the verdict file"


def test_text_of_a_broken_statement_still_renders() -> None:
    text = render_text({"predicate": {"deployability": {"checks": [{"outcome": "failed"}]}}})

    assert text.startswith("verdict   ?\n")
    assert "  unknown      1 failed" in text.splitlines()


def table_rows(markdown: str, header_start: str) -> list[list[str]]:
    """The cells of the table whose header row starts with ``header_start``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        # A cell boundary is a "|" not escaped with a backslash.
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        rows.append([cell.strip() for cell in cells])
    return rows


@pytest.mark.parametrize(
    ("checks", "facts", "heading"),
    [
        ([check("test_a", Outcome.PASSED)], None, "## Deployability: DEPLOYABLE (PASSED)"),
        (
            [check("test_a", Outcome.PASSED, attempts=2)],
            None,
            r"## Deployability: DEPLOYABLE\_WITH\_WARNINGS (WARNED)",
        ),
        (
            [check("test_a", Outcome.FAILED)],
            None,
            r"## Deployability: NOT\_DEPLOYABLE (FAILED)",
        ),
        (
            [check("test_a", Outcome.PASSED)],
            RunFacts(collection_errors=1),
            "## Deployability: INCONCLUSIVE (FAILED)",
        ),
    ],
)
def test_markdown_heading_names_verdict_and_status(
    checks: list[CheckResult], facts: RunFacts | None, heading: str
) -> None:
    assert render_markdown(statement(checks, facts)).splitlines()[0] == heading


def test_markdown_run_table_and_reasons() -> None:
    markdown = render_markdown(statement(EVERY_OUTCOME))

    assert table_rows(markdown, "| Target |") == [
        [
            "production https://shop.example PROTECTED",
            "shop-api 1.4.2",
            COMMIT,
            "2026-01-01T12:00:00Z",
            "41s",
        ]
    ]
    assert "### Reasons" in markdown
    assert r"- 1 advisory check failed: tests/deploy/test\_contract.py::test\_latency" in markdown
    categories = table_rows(markdown, "| Category |")
    assert categories[0] == ["smoke", "1", "1", "1", "0", "0", "0", "0", "0"]
    assert [row[0] for row in categories] == ["smoke", "contract", r"post\_deploy", "unknown"]


def test_markdown_check_table_lists_problems_first_with_every_column() -> None:
    rows = table_rows(render_markdown(statement(EVERY_OUTCOME)), "| Check |")

    assert len(rows) == len(EVERY_OUTCOME)
    assert all(len(row) == 7 for row in rows)
    assert rows[0] == [
        r"tests/deploy/test\_smoke.py::test\_login",
        "smoke", "yes", "failed", "3", "50 ms", "assert 503 == 200 + where 503",
    ]  # fmt: skip
    latency = next(row for row in rows if "latency" in row[0])
    assert latency[2:4] == ["no (advisory)", "failed (warned)"]
    assert rows[-1][0] == r"tests/deploy/test\_smoke.py::test\_health"


def test_markdown_escapes_pipes_and_newlines_and_truncates_messages() -> None:
    message = "expected a | b\ngot <c> " + "x" * 400
    markdown = render_markdown(statement([check("test_pipe", Outcome.FAILED, message=message)]))

    (row,) = table_rows(markdown, "| Check |")
    assert len(row) == 7
    cell = row[6]
    assert cell.startswith(r"expected a \| b got \<c\> xxx")
    assert cell.endswith("...")
    assert 190 <= len(cell.replace("\\", "")) <= 200


def test_markdown_without_commit_or_checks() -> None:
    markdown = render_markdown(statement([], commit=None, version=None))

    assert table_rows(markdown, "| Target |")[0][1:3] == ["shop-api (no version given)", "-"]
    assert "### Checks" not in markdown
    assert "no check was selected for this target" in markdown


def test_markdown_caps_the_check_table() -> None:
    checks = [check(f"test_{i}", Outcome.PASSED) for i in range(5)]
    markdown = render_markdown(statement(checks), max_checks=3)

    assert len(table_rows(markdown, "| Check |")) == 3
    assert "2 more checks are in the verdict file." in markdown


def test_decision_of_every_outcome_statement_is_not_deployable() -> None:
    # Guards the fixture the tests above rely on: it must really be a failing run.
    assert statement(EVERY_OUTCOME)["predicate"]["deployability"]["verdict"] == (
        Decision.NOT_DEPLOYABLE.value
    )
