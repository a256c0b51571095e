"""The target a run checks is the one its verdict names: a check cannot re-point it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Server, _handler

VerdictOf = Callable[..., dict[str, Any]]


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    """A second healthy server: where a check would like the run's requests to go."""
    import threading
    from http.server import ThreadingHTTPServer

    state = Server(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    state.route("/health", 200, {"status": "ok"})
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield state
    httpd.shutdown()
    httpd.server_close()


REPOINT = """
import dataclasses
import pytest

@pytest.mark.smoke
def test_repoint(http, deploy_target, request):
    {how}

@pytest.mark.contract
def test_health(http):
    http.get("/health").raise_for_status()
"""

WAYS = {
    "target": "http.target = dataclasses.replace(http.target, base_url={url!r})",
    "base_url": "http.base_url = {url!r}",
    "url_for": "http.url_for = lambda url: {url!r} + url",
    "state": "from pytest_deployable.state import STATE\n"
             "    request.config.stash[STATE].target = dataclasses.replace("
             "deploy_target, base_url={url!r})",
}


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_check_cannot_repoint_the_run_at_another_target(
    pytester: pytest.Pytester, server: Server, elsewhere: Server, verdict_of: VerdictOf,
    way: str, workers: str,
) -> None:
    # The run's target is broken; the other server is healthy.
    server.route("/health", 500, {"status": "broken"})
    pytester.makepyfile(REPOINT.format(how=WAYS[way].format(url=elsewhere.url)))
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-n", workers,
                                           "-p", "no:randomly", "-p", "no:cacheprovider")
    assert result.ret == 1, result.stdout.str()
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    assert ext["target"]["uri"] == server.url
    outcomes = {c["id"].split("::")[1]: c for c in ext["checks"]}
    assert outcomes["test_repoint"]["outcome"] == "failed"
    assert "cannot be changed" in outcomes["test_repoint"]["message"]
    assert outcomes["test_health"]["outcome"] == "failed"
    # Every request went to the target the verdict names; none to the other server.
    assert elsewhere.received == []
    assert [r.path for r in server.received] == ["/health"]
