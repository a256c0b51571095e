"""Summaries of a verdict for people: plain text for a terminal, Markdown for a CI job page.

Both renderers read the verdict file's content (the in-toto Statement built by
:func:`pytest_deployable.attestation.to_statement`, already redacted of secrets),
so the plugin at the end of a run and ``deployable show`` on a stored file print
the same thing. They tolerate a missing key by showing "?" rather than failing:
a summary that crashes hides the verdict it was meant to show.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .verdict import CATEGORIES
from .vocabulary import BROKEN, SUMMARY_KEYS, Outcome

__all__ = ["COUNT_LABELS", "category_counts", "host_lines", "render_markdown", "render_text"]

#: The keys of each :func:`category_counts` entry, in display order, with the
#: words a person reads for them.
COUNT_LABELS: Mapping[str, str] = {
    "passed": "passed",
    "failed": "failed",
    "errors": "errors",
    "warned": "warned",
    "skipped": "skipped",
    "refused": "refused",
    "notApplicable": "not applicable",
    "notRun": "not run",
}

#: Each outcome name in the verdict file and the summary key that counts it.
_OUTCOME_KEYS = {outcome.value: key for outcome, key in SUMMARY_KEYS.items()}
_OUTCOME_WORDS = {Outcome.NOT_APPLICABLE.value: "not applicable",
                  Outcome.NOT_RUN.value: "not run"}
_BROKEN = tuple(outcome.value for outcome in BROKEN)
# Blocking failures first: the reader came to learn what blocks the release.
_RANK = {"failed": 0, "error": 0, "notRun": 1, "skipped": 3, "refused": 4, "notApplicable": 6}
_WIDTH = 100
_MD_MESSAGE = 200


def _deployability(statement: Mapping[str, Any]) -> Mapping[str, Any]:
    predicate = statement.get("predicate")
    if isinstance(predicate, Mapping):
        data = predicate.get("deployability")
        if isinstance(data, Mapping):
            return data
    return {}


def _checks(statement: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    checks = _deployability(statement).get("checks")
    if not isinstance(checks, Sequence):
        return []
    return [check for check in checks if isinstance(check, Mapping)]


def _is_warned(check: Mapping[str, Any]) -> bool:
    """An advisory check that failed, or a blocking check that passed only on a rerun."""
    outcome = check.get("outcome")
    if not check.get("blocking", True):
        return outcome in _BROKEN
    reruns = check.get("reruns")
    return outcome == "passed" and isinstance(reruns, int) and reruns > 0


def _attempts(check: Mapping[str, Any]) -> int:
    attempts = check.get("attempts")
    return attempts if isinstance(attempts, int) else 1


def _rank(check: Mapping[str, Any]) -> int:
    if _is_warned(check):
        return 2
    outcome = check.get("outcome")
    if outcome == "passed":
        return 7
    if outcome == "notRun" and not check.get("blocking", True):
        return 5
    return _RANK.get(str(outcome), 0)


def category_counts(statement: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Count each category's checks by how they ended, for the per-category summary lines.

    The result maps ``smoke``, ``contract`` and ``post_deploy`` (always, in that
    order), then any other category found (such as ``unknown``), to a dict with
    every key of :data:`COUNT_LABELS` (and the raw name of an outcome this version
    does not know, should a newer writer add one). Each check is counted once: an advisory
    check that failed or errored, and a blocking check that passed only after
    more than one attempt, count as ``warned`` and not as failed or passed.
    """
    counts: dict[str, dict[str, int]] = {
        category: dict.fromkeys(COUNT_LABELS, 0) for category in CATEGORIES
    }
    for check in _checks(statement):
        category = str(check.get("category") or "unknown")
        bucket = counts.setdefault(category, dict.fromkeys(COUNT_LABELS, 0))
        outcome = str(check.get("outcome"))
        key = "warned" if _is_warned(check) else _OUTCOME_KEYS.get(outcome, outcome)
        bucket[key] = bucket.get(key, 0) + 1
    return counts


def _hosts(statement: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    hosts = _deployability(statement).get("hosts")
    if not isinstance(hosts, Sequence):
        return []
    return [host for host in hosts if isinstance(host, Mapping)]


def _host_broken(host: Mapping[str, Any]) -> bool:
    return any(isinstance(host.get(key), int) and host[key] > 0
               for key in ("failed", "errors", "notRun"))


#: A fleet this small is shown host by host; a larger one only by its broken hosts.
_ALL_HOSTS = 10


def host_lines(statement: Mapping[str, Any], *, max_hosts: int = 20) -> list[str]:
    """The per-host part of the text summary: a count line, then the hosts whose checks
    did not all pass (every host, for a fleet of at most 10), at most ``max_hosts``."""
    hosts = _hosts(statement)
    if not hosts:
        return []
    broken = [host for host in hosts if _host_broken(host)]
    lines = [f"hosts     {len(broken)} of {len(hosts)} with failed checks"]
    shown = hosts if len(hosts) <= _ALL_HOSTS else broken
    shown = sorted(shown, key=lambda host: not _host_broken(host))
    width = min(40, max((len(str(host.get("host"))) for host in shown), default=0))
    for host in shown[:max_hosts]:
        counts = {key: host.get(key, 0) for key in COUNT_LABELS if key != "warned"}
        words = _count_words({k: v for k, v in counts.items() if isinstance(v, int)})
        lines.append(_clip(f"  {str(host.get('host')).ljust(width)}  {words}", _WIDTH))
    if len(shown) > max_hosts:
        lines.append(f"  ... and {len(shown) - max_hosts} more in the verdict file")
    return lines


def _count_words(counts: Mapping[str, int]) -> str:
    parts = []
    for key, count in counts.items():
        if not count:
            continue
        label = COUNT_LABELS.get(key, key)
        if label == "errors" and count == 1:
            label = "error"
        parts.append(f"{count} {label}")
    return ", ".join(parts) or "no checks"


def _subject(statement: Mapping[str, Any]) -> tuple[str, str | None]:
    """The tested artifact's name and git commit, if the statement has one."""
    subjects = statement.get("subject")
    if not (isinstance(subjects, Sequence) and subjects and isinstance(subjects[0], Mapping)):
        return "?", None
    digest = subjects[0].get("digest")
    commit = digest.get("gitCommit") if isinstance(digest, Mapping) else None
    return str(subjects[0].get("name") or "?"), str(commit) if commit else None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:  # Python 3.10's fromisoformat does not read the "Z" suffix.
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _run_duration(data: Mapping[str, Any]) -> str:
    started, finished = _parse_time(data.get("startedOn")), _parse_time(data.get("finishedOn"))
    if started is None or finished is None:
        return "?"
    seconds = max(0, round((finished - started).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def _check_duration(check: Mapping[str, Any]) -> str:
    millis = check.get("durationMs")
    if not isinstance(millis, (int, float)):
        return "?"
    return f"{millis:.0f} ms" if millis < 1000 else f"{millis / 1000:.1f} s"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _target_words(data: Mapping[str, Any]) -> list[str]:
    target = data.get("target")
    target = target if isinstance(target, Mapping) else {}
    name, uri = str(target.get("name") or "?"), target.get("uri")
    # An ad-hoc URL target is named by its URL; showing it twice helps nobody.
    words = [name] if not uri or uri == name else [name, str(uri)]
    return [*words, "PROTECTED"] if target.get("protected") else words


def _outcome_word(check: Mapping[str, Any]) -> str:
    outcome = str(check.get("outcome") or "?")
    return _OUTCOME_WORDS.get(outcome, outcome)


def render_text(statement: Mapping[str, Any], *, max_checks: int = 50) -> str:
    """Render the verdict as plain text for a person reading a terminal.

    Shows the verdict, what was tested where and when, the reasons, one line of
    counts per category, and then the checks that did not pass cleanly (blocking
    failures first), at most ``max_checks`` of them, each with its message's
    first line. No color codes; lines stay within 100 characters except for very
    long check ids.
    """
    data = _deployability(statement)
    name, commit = _subject(statement)
    subject = f"{name} {data.get('version') or '(no version given)'}"
    if commit:
        subject += f" (commit {commit})"
    lines = [
        f"verdict   {data.get('verdict') or '?'}",
        f"subject   {subject}",
        f"target    {'  '.join(_target_words(data))}",
        f"time      {data.get('startedOn') or '?'}, took {_run_duration(data)}",
    ]
    reasons = data.get("reasons") or []
    if reasons:
        lines.append("reasons")
        for reason in reasons:
            # Wrapped, not cut: a reason names the checks that block the release.
            lines += textwrap.wrap(
                _one_line(str(reason)),
                _WIDTH,
                initial_indent="  - ",
                subsequent_indent="    ",
                break_long_words=False,
                break_on_hyphens=False,
            )
    lines.append("checks")
    counts = category_counts(statement)
    width = max(len(category) for category in counts) + 2
    for category, by_outcome in counts.items():
        lines.append(f"  {category.ljust(width)}{_count_words(by_outcome)}")
    lines += host_lines(statement)
    # Ranked once per check, and only the few that did not pass cleanly are sorted
    # (a stable sort: the same order as sorting them all, then keeping these).
    attention = sorted((check for check in _checks(statement) if _rank(check) < 7), key=_rank)
    if attention:
        lines.append("not passed cleanly")
    for check in attention[:max_checks]:
        tags = [str(check.get("category") or "unknown")]
        if not check.get("blocking", True):
            tags.append("advisory")
        if _attempts(check) > 1:
            tags.append(f"{_attempts(check)} attempts")
        lines.append(f"  {_outcome_word(check):<15} {check.get('id')}  [{', '.join(tags)}]")
        message = str(check.get("message") or "").strip()
        if message:
            lines.append(_clip(f"{'':18}{message.splitlines()[0].strip()}", _WIDTH))
    if len(attention) > max_checks:
        lines.append(f"  ... and {len(attention) - max_checks} more in the verdict file")
    lines += _waited_lines(statement, max_checks)
    lines += _soak_lines(data)
    return "\n".join(lines) + "\n"


def _waited_lines(statement: Mapping[str, Any], limit: int) -> list[str]:
    """The checks that had to wait for convergence, and for how long."""
    lines: list[str] = []
    for check in _checks(statement):
        reruns = check.get("reruns") if isinstance(check.get("reruns"), int) else 0
        own = _attempts(check) - int(reruns or 0)
        if own <= 1 and not check.get("waits"):
            continue  # most checks: one attempt, no waits
        waits = [w for w in check.get("waits") or [] if isinstance(w, Mapping)]
        if own <= 1 and not any(int(w.get("attempts") or 0) > 1 for w in waits):
            continue
        seconds = int(check.get("durationMs") or 0) / 1000
        lines.append(
            f"  {check.get('id')}: {_outcome_word(check)} on attempt {own} "
            f"after {seconds:.1f}s"
        )
        for wait in waits:
            lines.append(_clip(
                f"    waited for {wait.get('what')}: {wait.get('attempts')} attempts, "
                f"{int(wait.get('waitedMs') or 0) / 1000:.1f}s", _WIDTH))
    if not lines:
        return []
    shown = lines[: limit * 2]
    return ["waited for convergence", *shown]


def _soak_lines(data: Mapping[str, Any]) -> list[str]:
    soak = data.get("soak")
    if not isinstance(soak, Mapping):
        return []
    rounds = [r for r in soak.get("rounds") or [] if isinstance(r, Mapping)]
    lines = [
        f"soak      {len(rounds)} rounds, {soak.get('failedRounds')} failed "
        f"(limit {soak.get('failureLimit')})"
    ]
    for round_ in rounds:
        for key in ("failed", "skipped"):
            ids = round_.get(key) or []
            if ids:
                lines.append(_clip(
                    f"  round {round_.get('round')}: {key} {', '.join(map(str, ids))}", _WIDTH))
    if soak.get("finished") is False:
        lines.append("  interrupted before its duration ended")
    return lines


def _md(text: str) -> str:
    r"""Text safe in Markdown prose and table cells: one line, punctuation that
    Markdown or HTML would interpret escaped with a backslash (``|`` as ``\|``)."""
    escaped = _one_line(text)
    for char in "\\`*_[]<>|#!~":
        escaped = escaped.replace(char, "\\" + char)
    return escaped


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_md_row(header), _md_row(["---"] * len(header)), *(_md_row(row) for row in rows)]


def _md_check_row(check: Mapping[str, Any]) -> list[str]:
    outcome = _outcome_word(check) + (" (warned)" if _is_warned(check) else "")
    return [
        _md(str(check.get("id"))),
        _md(str(check.get("category") or "unknown")),
        "yes" if check.get("blocking", True) else "no (advisory)",
        _md(outcome),
        str(_attempts(check)),
        _md(_check_duration(check)),
        _md(_clip(_one_line(str(check.get("message") or "")), _MD_MESSAGE)),
    ]


def render_markdown(statement: Mapping[str, Any], *, max_checks: int = 200) -> str:
    """Render the verdict as GitHub-flavoured Markdown for a CI job summary page.

    A heading with the verdict and the in-toto status word (PASSED, WARNED or
    FAILED), a table of target, version, commit, start and duration, the reasons,
    a table of counts per category, and one table of checks, the ones that did
    not pass cleanly first, at most ``max_checks`` rows. Every cell is one line
    with ``|`` escaped; messages are cut to about 200 characters.
    """
    data = _deployability(statement)
    predicate = statement.get("predicate")
    result = predicate.get("result") if isinstance(predicate, Mapping) else None
    verdict = _md(str(data.get("verdict") or "?"))
    lines = [f"## Deployability: {verdict} ({_md(str(result or 'FAILED'))})", ""]
    name, commit = _subject(statement)
    lines += _md_table(
        ["Target", "Version", "Commit", "Started", "Duration"],
        [
            [
                _md(" ".join(_target_words(data))),
                _md(f"{name} {data.get('version') or '(no version given)'}"),
                _md(commit) if commit else "-",
                _md(str(data.get("startedOn") or "?")),
                _md(_run_duration(data)),
            ]
        ],
    )
    reasons = data.get("reasons") or []
    if reasons:
        lines += ["", "### Reasons", ""]
        lines += [f"- {_md(str(reason))}" for reason in reasons]
    counts = category_counts(statement)
    lines += ["", "### Categories", ""]
    lines += _md_table(
        ["Category", *COUNT_LABELS.values()],
        [
            [_md(category), *(str(by_outcome.get(key, 0)) for key in COUNT_LABELS)]
            for category, by_outcome in counts.items()
        ],
    )
    hosts = _hosts(statement)
    if hosts:
        broken = [host for host in hosts if _host_broken(host)]
        rows = hosts if len(hosts) <= _ALL_HOSTS else broken
        rows = sorted(rows, key=lambda host: not _host_broken(host))
        keys = [key for key in COUNT_LABELS if key != "warned"]
        lines += ["", "### Hosts", "", f"{len(broken)} of {len(hosts)} hosts with failed checks.",
                  ""]
        lines += _md_table(
            ["Host", *(COUNT_LABELS[key] for key in keys), "Failed checks"],
            [
                [_md(str(host.get("host"))), *(str(host.get(key, 0)) for key in keys),
                 _md(_clip(", ".join(str(c) for c in host.get("failedChecks") or []),
                           _MD_MESSAGE))]
                for host in rows[:max_checks]
            ],
        )
    checks = sorted(_checks(statement), key=_rank)
    if checks:
        lines += ["", "### Checks", ""]
        lines += _md_table(
            ["Check", "Category", "Blocking", "Outcome", "Attempts", "Duration", "Message"],
            [_md_check_row(check) for check in checks[:max_checks]],
        )
        if len(checks) > max_checks:
            lines += ["", f"{len(checks) - max_checks} more checks are in the verdict file."]
    return "\n".join(lines) + "\n"
