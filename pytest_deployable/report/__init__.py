"""The report page and the DORA metrics: the ledger shown to the whole team (SPEC sections 13, 14).

:func:`render_report` is the one call another module needs (``deployable report``
writes its result to a file, ``deployable serve`` answers ``GET /`` with it).
Jinja2 (the ``report`` extra) is imported only when a page is rendered.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

    from ..ledger.store import Ledger

__all__ = ["render_report"]


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@functools.cache
def _template() -> jinja2.Template:
    """The page's compiled template: compiled once per process (``serve`` renders it often)."""
    import jinja2

    from .charts import duration_text, percent_text

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_deployable.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(duration=duration_text, percent=percent_text, when=_when)
    return environment.get_template("index.html.j2")


def render_report(ledger: Ledger, *, now: datetime | None = None,
                  since: datetime | timedelta = timedelta(days=90)) -> str:
    """The report page of an open ledger: one self-contained HTML document.

    ``since`` is the DORA metrics' window (a time, or a length back from ``now``).
    Raises the ledger's ``LedgerError`` when it cannot be read, and ``ImportError``
    without Jinja2.
    """
    from .charts import HEIGHT, WIDTH
    from .page import gather

    page = gather(ledger, now=now or datetime.now(timezone.utc), since=since)
    context: dict[str, Any] = {"page": page, "width": WIDTH, "height": HEIGHT}
    return _template().render(context)
