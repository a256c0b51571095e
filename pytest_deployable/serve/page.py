"""``GET /``: the report page of SPEC §14, live from the ledger.

The page is ``pytest_deployable.report.render_report(ledger)`` when that module
is there; until then (or in an installation without it) a small page lists each
target's latest verdict. :func:`render_page` is the one seam between the two.
Every string on the page comes from untrusted verdicts and is HTML-escaped.
"""

from __future__ import annotations

import html
import importlib
from typing import Any

from ..attestation import format_time
from ..ledger.rows import VerdictRow

__all__ = ["render_page"]

#: How far back the fallback page looks for each target's latest verdict.
_RECENT = 500


def render_page(ledger: Any) -> str:
    """The page's HTML: the report page if it is installed, else the latest verdicts."""
    try:
        report = importlib.import_module("pytest_deployable.report")
    except ImportError:
        return _latest_verdicts(ledger)
    render = getattr(report, "render_report", None)
    if render is None:
        return _latest_verdicts(ledger)
    return str(render(ledger))


def _latest_verdicts(ledger: Any) -> str:
    latest: dict[str, VerdictRow] = {}
    for entry in ledger.history(limit=_RECENT):
        if isinstance(entry, VerdictRow) and entry.target not in latest:
            latest[entry.target] = entry
    rows = "".join(
        f"<tr><td>{html.escape(row.target)}</td><td>{html.escape(row.version or '-')}</td>"
        f"<td class=\"{html.escape(row.verdict)}\">{html.escape(row.verdict)}"
        f"{'' if row.complete else ' (partial)'}</td>"
        f"<td>{format_time(row.finished_on)}</td>"
        f"<td>{html.escape(row.reasons[0]) if row.reasons else ''}</td></tr>"
        for row in sorted(latest.values(), key=lambda r: r.target)
    ) or "<tr><td colspan=\"5\">no verdict recorded yet</td></tr>"
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>deployable: latest verdicts</title><style>"
        "body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left}"
        ".DEPLOYABLE{color:#080}.NOT_DEPLOYABLE,.INCONCLUSIVE{color:#b00}"
        ".DEPLOYABLE_WITH_WARNINGS{color:#a60}</style></head><body>"
        "<h1>Latest verdicts</h1><table><thead><tr><th>target</th><th>version</th>"
        "<th>verdict</th><th>finished</th><th>first reason</th></tr></thead><tbody>"
        f"{rows}</tbody></table></body></html>"
    )
