"""The ``http`` fixture's session: requests bound to a target, safe against production."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.util.retry import Retry

from .redact import Redactor
from .targets import Target

__all__ = ["SAFE_METHODS", "RefusedRequest", "ResponseTooLarge", "TargetSession"]

#: The only methods a protected target receives from a check not allowed to change state.
#: An allow-list: WebDAV verbs, PURGE, TRACE and whatever a server invents next are
#: refused without anyone having to think of them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


_CHUNK = 64 * 1024


class ResponseTooLarge(requests.RequestException):
    """An answer larger than the target's ``max_response_bytes``: not read into memory."""


class RefusedRequest(Exception):
    """A state-changing request to a protected target that the check was not allowed to make."""


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port of a URL, the port filled in from the scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number: no origin matches it
        port = -1
    return scheme, parts.hostname, port


class _GuardedAdapter(BaseAdapter):
    """A transport adapter that asks its session before sending anything.

    Every request leaves a ``requests.Session`` through an adapter, whether it
    came from ``request``, a verb helper, ``send`` of a prepared request, a
    redirect, or a check calling a mounted adapter itself; so this is the one
    place where the protected-target guard stands.
    """

    def __init__(self, inner: BaseAdapter, guard: Callable[[str, str], None]) -> None:
        super().__init__()
        self.inner = inner
        self._guard = guard

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        __tracebackhide__ = True
        self._guard(str(request.method or "GET"), str(request.url or ""))
        return self.inner.send(request, *args, **kwargs)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _cut_connection(response: requests.Response, cut: threading.Event) -> None:
    """Shut the socket of a response whose body is too slow, waking the blocked read."""
    cut.set()
    connection = getattr(response.raw, "_connection", None) or getattr(
        response.raw, "connection", None
    )
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


#: Attributes a check may never set on the session: the target and its URL.
_FIXED = frozenset({"target", "base_url", "_TargetSession__target"})


class TargetSession(requests.Session):
    """A ``requests.Session`` bound to one target.

    Relative URLs are joined to the target's ``base_url`` (``"/health"`` on
    ``https://shop.example/api`` is ``https://shop.example/api/health``), the
    target's headers are sent, every request has the target's timeout, and
    idempotent requests are retried on connection errors and 502/503/504.
    On a protected target, any method but GET, HEAD and OPTIONS raises
    :class:`RefusedRequest` before anything is sent, however the request leaves
    the session, unless ``allow_unsafe()`` says the running check may change
    state. The target's headers go only to the target's own origin.
    """

    __target: Target

    def __init__(
        self,
        target: Target,
        *,
        allow_unsafe: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        object.__setattr__(self, "_TargetSession__target", target)
        self._allow_unsafe = allow_unsafe
        self._redact = Redactor(target.secrets)
        self.headers.update(target.headers)
        self.verify = target.ca_bundle or target.verify
        retry = Retry(
            total=target.retries,
            connect=target.retries,
            read=False,  # a read timeout is raised as is, never retried: it would multiply the wait
            status=target.retries,
            status_forcelist=(502, 503, 504),
            allowed_methods=_IDEMPOTENT,
            backoff_factor=0.2,
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    @property
    def target(self) -> Target:
        """The target every request goes to: fixed for the run, since the verdict names it."""
        return self.__target

    def __setattr__(self, name: str, value: Any) -> None:
        # A check that re-pointed the session (its target, its base URL, or a method
        # that builds URLs or sends) would send every later check elsewhere while
        # the verdict still names the run's target.
        if name in _FIXED or name in _OWN_METHODS:
            raise AttributeError(
                f"http.{name} cannot be changed: the http session is bound to target "
                f"{self.__target.name!r} for the whole run"
            )
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in _FIXED or name in _OWN_METHODS:
            raise AttributeError(f"http.{name} cannot be deleted")
        super().__delattr__(name)

    def mount(self, prefix: str | bytes, adapter: BaseAdapter) -> None:
        """Mount ``adapter`` behind the protected-target guard (see :class:`_GuardedAdapter`)."""
        if not isinstance(adapter, _GuardedAdapter):
            adapter = _GuardedAdapter(adapter, self._guard)
        super().mount(prefix, adapter)

    def _guard(self, method: str, url: str) -> None:
        """Refuse a request a protected target must not receive; see the class docstring."""
        __tracebackhide__ = True
        verb = method.upper()
        target = getattr(self, "target", None)
        if target is None or not target.protected or verb in SAFE_METHODS:
            return
        if self._allow_unsafe():
            return
        raise RefusedRequest(
            self._redact(
                f"refused {verb} {url}: target {target.name!r} is protected and takes only "
                f"{', '.join(sorted(SAFE_METHODS))}; mark the check @pytest.mark.destructive "
                "and run with --allow-destructive to let it change state"
            )
        )

    def url_for(self, url: str) -> str:
        """The absolute URL a request for ``url`` goes to."""
        if urlsplit(url).scheme or not self.target.base_url:
            return url
        return self.target.base_url.rstrip("/") + "/" + url.lstrip("/")

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send a request to the target; see the class docstring for what is added."""
        __tracebackhide__ = True
        verb = (method.decode() if isinstance(method, bytes) else method).upper()
        full = self.url_for(url.decode() if isinstance(url, bytes) else url)
        self._guard(verb, full)  # before anything is prepared; the adapter checks again
        if self.target.base_url and _origin(full) != _origin(self.target.base_url):
            # As on a redirect: another host gets none of the target's headers
            # (tokens, API keys), unless the check passes them itself.
            given = {name.lower() for name in (kwargs.get("headers") or {})}
            kwargs["headers"] = {
                **{name: None for name in self.target.headers if name.lower() not in given},
                **(kwargs.get("headers") or {}),
            }
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.target.timeout
        if kwargs.get("verify") is None:
            # Given per request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
            kwargs["verify"] = self.verify
        streamed = bool(kwargs.get("stream"))
        kwargs["stream"] = True
        try:
            response = super().request(verb, full, *args, **kwargs)
        except requests.Timeout as exc:
            raise type(exc)(
                self._redact(
                    f"{verb} {full}: no answer from target {self.target.name!r} within "
                    f"{kwargs['timeout']}s"
                ),
                request=exc.request,
            ) from None
        except requests.ConnectionError as exc:
            raise type(exc)(
                self._redact(f"{verb} {full}: cannot reach target {self.target.name!r}: {exc}"),
                request=exc.request,
            ) from None
        if not streamed:
            self._read_body(response, f"{verb} {full}")
        return response

    def _read_body(self, response: requests.Response, what: str) -> None:
        """Read the whole body, bounded in size and in time, as requests would have.

        requests' own timeout applies to each read, so a server that sends one
        byte a second never times out and one that sends 200 MB fills memory;
        here the body must arrive within the target's ``timeout`` and hold at
        most ``max_response_bytes``.
        """
        limit = self.target.max_response_bytes
        too_slow = requests.Timeout(self._redact(
            f"{what}: the answer from target {self.target.name!r} did not finish arriving "
            f"within {self.target.timeout}s"
        ))
        # A read blocks until its chunk is full, so a trickle of bytes would never
        # reach a deadline checked between chunks: a timer cuts the connection.
        cut = threading.Event()
        timer = threading.Timer(self.target.timeout, _cut_connection, (response, cut))
        timer.daemon = True
        timer.start()
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(self._redact(
                        f"{what}: the answer from target {self.target.name!r} is larger than "
                        f"{limit} bytes (the target's max_response_bytes)"
                    ))
                chunks.append(chunk)
        except requests.RequestException as exc:
            response.close()
            if cut.is_set():
                raise too_slow from None
            if isinstance(exc, ResponseTooLarge):
                raise
            raise requests.ConnectionError(self._redact(
                f"{what}: the answer from target {self.target.name!r} broke off: {exc}"
            )) from None
        except BaseException:
            response.close()
            raise
        finally:
            timer.cancel()
        if cut.is_set():
            raise too_slow
        # What requests itself does when stream=False: the body is the content.
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]

    def rebuild_auth(self, prepared_request: requests.PreparedRequest,
                     response: requests.Response) -> None:
        """Drop the target's headers when a redirect leaves the target's host.

        requests strips only ``Authorization`` on such a redirect; a target's
        custom secret headers (``X-Api-Key``) must not follow it either.
        """
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        if _origin(response.request.url or "") != _origin(prepared_request.url or ""):
            for name in self.target.headers:
                prepared_request.headers.pop(name, None)


#: Methods of the session a check may not replace on the instance.
_OWN_METHODS = frozenset(
    name for name in dir(TargetSession) if callable(getattr(TargetSession, name, None))
    and not name.startswith("__")
)
