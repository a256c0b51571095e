"""How ``pytest -n N`` spreads this suite: test by test, except modules kept on one worker.

A module or session fixture runs once per xdist *worker*, so under ``--dist load`` a
module whose tests land on both workers starts its server twice. PostgreSQL is shared
between workers instead (``_per_run``), but the servers below cannot be: their handle or
the service they watch lives in the test process. Their modules run whole on one worker.

This is what ``--dist loadgroup`` with ``xdist_group`` marks would do, but on pytest 9.2
that mode silently spreads grouped tests anyway: xdist tags a group by rewriting the
item's ``_nodeid``, which pytest no longer reads (pytest-dev/pytest-xdist#1386). A
scheduler of our own, by module name, does not depend on it.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

#: Modules whose tests run on one worker, and the server that makes it worth it.
ONE_WORKER: dict[str, str] = {
    "test_demo.py": "the whole demo (every step of `make demo`), run by a module fixture",
    "test_metrics.py": "Prometheus, and the service it scrapes in this process",
    "test_report_browser.py": "Chromium, driven through Playwright",
    "test_serve.py": "a `deployable serve` process",
    "test_serve_check.py": "a `deployable serve` process",
    "test_serve_examples.py": "a `deployable serve` process",
    "test_example_service.py": "the example shop's processes",
}


def scope_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its module if listed, else the test alone."""
    module = nodeid.split("::", 1)[0]
    return module if module.rsplit("/", 1)[-1] in ONE_WORKER else nodeid


class ModulesOnOneWorker(LoadScopeScheduling):
    """``--dist load``, except that each module of :data:`ONE_WORKER` goes to one worker.

    xdist's scope scheduling hands the largest units out first (``--loadscope-reorder``,
    its default), so these modules start early and the single tests fill in around them.
    """

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)
