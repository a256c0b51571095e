"""The report page and the DORA metrics: the ledger shown to the whole team (SPEC sections 13, 14).

:func:`render_report` is the one call another module needs (``deployable report``
writes its result to a file, ``deployable serve`` answers ``GET /`` with it).
Jinja2 (the ``report`` extra) is imported only when a page is rendered.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ledger.store import Ledger

__all__ = ["render_report"]


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def render_report(ledger: Ledger, *, now: datetime | None = None,
                  since: datetime | timedelta = timedelta(days=90)) -> str:
    """The report page of an open ledger: one self-contained HTML document.

    ``since`` is the DORA metrics' window (a time, or a length back from ``now``).
    Raises the ledger's ``LedgerError`` when it cannot be read, and ``ImportError``
    without Jinja2.
    """
    import jinja2

    from .charts import HEIGHT, WIDTH, duration_text, percent_text
    from .page import gather

    page = gather(ledger, now=now or datetime.now(timezone.utc), since=since)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_deployable.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(duration=duration_text, percent=percent_text, when=_when)
    context: dict[str, Any] = {"page": page, "width": WIDTH, "height": HEIGHT}
    return environment.get_template("index.html.j2").render(context)
