"""The routes of SPEC §15 as a Starlette application.

Every answer is JSON (the page at ``/`` excepted), errors too: ``{"error": "one
line"}`` with the status, never a traceback. The database is asked from
Starlette's thread pool, so a slow query never stalls the event loop that
answers ``/healthz``. Status codes are in :data:`CAN_I_DEPLOY_STATUS` and the
handlers; the README's "deployable serve" section lists them all.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..envelope import open_document
from ..gate import VerdictFileError, parse_json
from ..ledger.connection import LedgerError
from ..ledger.documents import read_document
from ..ledger.promotion import Promotion
from ..ledger.schema import HEAD
from ..ledger.store import DeploymentConflict
from ..redact import Redactor
from ..untrusted import one_line
from .bodies import FLAGGER_HOOKS, Problem, deployment, flagger_call, json_body, name_parameter
from .checks import CheckRunner
from .ledger_access import LedgerAccess, RuleError
from .page import render_page
from .settings import Settings, host_allowed

__all__ = ["CAN_I_DEPLOY_STATUS", "build_app"]

#: The status of ``GET /v1/can-i-deploy`` for each answer (``format=argo``: always 200).
CAN_I_DEPLOY_STATUS = {"yes": 200, "no": 409, "unknown": 404}
_LOG = logging.getLogger("pytest_deployable.serve")
#: Headers on every answer: nothing here is to be cached by a proxy, sniffed or framed.
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_PAGE_HEADERS = {**_HEADERS, "X-Frame-Options": "DENY", "Content-Security-Policy":
                 "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                 "img-src data:"}


class Service:
    """The handlers, over one ledger and one check runner."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redact = Redactor(settings.secrets)
        self.ledger = LedgerAccess(settings)
        self.runner: CheckRunner | None = None
        if settings.suite is not None:
            self.runner = CheckRunner(
                settings.suite, env=settings.child_environment(), cache=settings.cache,
                timeout=settings.check_timeout, redact=self.redact,
                targets_file=getattr(settings.targets, "path", None))

    def json(self, status: int, document: dict[str, Any],
             headers: dict[str, str] | None = None) -> JSONResponse:
        """A JSON answer, with every secret the service knows masked."""
        return JSONResponse(self.redact.value(document), status,
                            headers={**_HEADERS, **(headers or {})})

    async def db(self, call: Callable[[], Any]) -> Any:
        """``call`` in the thread pool; a ledger fault becomes a 503."""
        try:
            return await run_in_threadpool(call)
        except LedgerError as exc:
            raise Problem(503, f"the ledger cannot be used: {exc}") from None

    # -- reading --------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        text = await self.db(lambda: render_page(self.ledger.get()))
        return HTMLResponse(self.redact(text), headers=_PAGE_HEADERS)

    async def healthz(self, request: Request) -> Response:
        checks = {"running": self.runner.running, "waiting": self.runner.waiting,
                  "runs": self.runner.runs} if self.runner else None
        try:
            await run_in_threadpool(self.ledger.health)
        except LedgerError as exc:
            return self.json(503, {"status": "unavailable", "error": str(exc),
                                   "ledger": self.settings.ledger.shown, "checks": checks})
        return self.json(200, {"status": "ok", "ledger": self.settings.ledger.shown,
                               "schema": HEAD, "readOnly": self.settings.token is None,
                               "checks": checks})

    async def can_i_deploy(self, request: Request) -> Response:
        query = request.query_params
        argo = query.get("format") == "argo"
        if query.get("format") not in (None, "json", "argo"):
            raise Problem(400, "GET /v1/can-i-deploy: format must be json or argo")
        try:
            route = "GET /v1/can-i-deploy"
            version, to = name_parameter(query, "version", route), name_parameter(query, "to",
                                                                                 route)
            if query.get("strict", "false") not in ("true", "false"):
                raise Problem(400, f"{route}: strict must be true or false")
            strict = query.get("strict") == "true"
            try:
                promotion: Promotion = await self.db(
                    lambda: self.ledger.can_i_deploy(version, to, strict=strict))
            except RuleError as exc:
                raise Problem(400, str(exc)) from None
        except Problem as problem:
            if not argo:
                raise
            # Argo's web metric reads the body only from a 200: a fault is "not deployable",
            # with answer unknown, so that failureCondition: result.answer == "no" stays true
            # to the evidence.
            return self.json(200, {"answer": "unknown", "deployable": False,
                                   "reasons": [str(problem)], "error": str(problem),
                                   "status": problem.status})
        status = 200 if argo else CAN_I_DEPLOY_STATUS[promotion.answer]
        return self.json(status, promotion.to_dict())

    async def check(self, request: Request) -> Response:
        route = "GET /v1/check"
        if self.runner is None:
            raise Problem(404, f"{route}: no suite to run; start deployable serve with "
                               "--suite PATH")
        target = name_parameter(request.query_params, "target", route)
        version = name_parameter(request.query_params, "version", route)
        self._known_target(target, route)
        answer, cached = await self.runner.check(target, version)
        return self.json(200 if answer.deployable else 503, answer.to_dict(cached=cached))

    def _known_target(self, target: str, route: str) -> None:
        tables = getattr(self.settings.targets, "tables", None)
        if tables is None:
            raise Problem(400, f"{route}: no targets file; start deployable serve where "
                               "deploy-targets.toml is, or with --targets-file")
        if target not in tables:
            raise Problem(400, f"{route}: {one_line(target)!r} is not a target in "
                               f"{self.settings.targets.path}; known: "
                               f"{', '.join(sorted(tables))}")

    # -- writing --------------------------------------------------------------------------------

    def authorize(self, request: Request) -> None:
        """Problem 403 when the service is read-only, 401 without the right bearer token."""
        token = self.settings.token
        if token is None:
            raise Problem(403, "the service is read-only: start it with --token-env NAME and "
                               "the token in the variable NAME to accept writes")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # compare_digest: the time taken does not tell how much of a guess was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("utf-8", "replace"), token.encode("utf-8")):
            raise Problem(401, "this route needs Authorization: Bearer <token>",
                          headers={"WWW-Authenticate": 'Bearer realm="deployable"'})

    async def body(self, request: Request) -> bytes:
        """The request body, at most --max-body bytes (else 413, before reading it all)."""
        limit = self.settings.max_body
        length = request.headers.get("content-length")
        too_big = Problem(413, f"the body is larger than {limit} bytes (--max-body)")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise too_big if length.isdigit() else Problem(400, "bad Content-Length")
        data = bytearray()
        async for chunk in request.stream():
            data.extend(chunk)
            if len(data) > limit:
                raise too_big
        return bytes(data)

    async def record_verdict(self, request: Request) -> Response:
        self.authorize(request)
        raw = await self.body(request)
        try:
            document = read_document(raw)
        except VerdictFileError as exc:
            raise Problem(400, f"POST /v1/verdicts: {exc}") from None
        keys, required = await self.db(lambda: self.ledger.trusted_keys(document.target))
        verified = None
        if keys or required:
            verified = self._verify(raw, keys, document.target)
        [(verdict_id, new)] = await self.db(lambda: self.ledger.get().record([document]))
        return self.json(201 if new else 200, {
            "id": verdict_id, "new": new, "digest": f"sha256:{document.statement_sha256}",
            "target": document.target, "version": document.version,
            "verdict": document.verdict, "complete": document.complete,
            "signed": document.signed, "verifiedBy": verified})

    def _verify(self, raw: bytes, keys: tuple[Any, ...], target: str) -> str:
        """The keyid of the trusted key that signed ``raw``; Problem 422 if none did."""
        where = f"POST /v1/verdicts: verdicts for {one_line(target)!r} must be signed"
        if not keys:
            raise Problem(422, f"{where}, and no trusted key is configured for it (the "
                               "policy's trusted_keys, or --key)")
        try:
            opened = open_document(parse_json(raw.decode("utf-8")), keys)
        except (VerdictFileError, ValueError, RecursionError) as exc:
            raise Problem(422, f"{where}: {one_line(str(exc))}") from None
        signer = opened.verified_by
        if not opened.signed or signer is None or signer.verified_by is None:
            raise Problem(422, f"{where} by a trusted key: {opened.problem}")
        return signer.verified_by

    async def record_deployment(self, request: Request) -> Response:
        self.authorize(request)
        new = deployment(json_body(await self.body(request), "POST /v1/deployments"))

        def record() -> Any:
            try:
                return self.ledger.get().record_deployment(new)
            except DeploymentConflict as exc:  # --id reused, or --remediates unknown
                raise Problem(409, f"POST /v1/deployments: {exc}") from None

        row, is_new = await self.db(record)
        return self.json(201 if is_new else 200, {**row.to_dict(), "new": is_new})

    # -- Flagger --------------------------------------------------------------------------------

    async def flagger(self, request: Request) -> Response:
        hook = request.path_params["hook"]
        if hook not in FLAGGER_HOOKS:
            flagger_call(hook, {})  # raises the 404 naming the hooks
        call = flagger_call(hook, json_body(await self.body(request), f"POST /v1/flagger/{hook}"))
        proceed_hook = FLAGGER_HOOKS[hook]
        facts: dict[str, Any] = {"hook": hook, "canary": call.canary, "target": call.target,
                                 "version": call.version}
        try:
            if call.run:
                if self.runner is None:
                    raise Problem(404, "metadata.run is \"true\" but no suite is configured "
                                       "(deployable serve --suite PATH)")
                self._known_target(call.target, f"POST /v1/flagger/{hook}")
                answer, _ = await self.runner.check(call.target, call.version)
                deployable, reasons = answer.deployable, list(answer.reasons)
                facts["verdict"] = answer.verdict
            else:
                try:
                    promotion = await self.db(
                        lambda: self.ledger.can_i_deploy(call.version, call.target))
                except RuleError as exc:
                    raise Problem(400, str(exc)) from None
                deployable, reasons = promotion.answer == "yes", promotion.reasons
                facts["answer"] = promotion.answer
        except Problem as problem:
            if proceed_hook or problem.status == 400:
                raise
            # Rollback when the evidence cannot be read: fail closed (see the README).
            deployable, reasons = False, [str(problem)]
        facts.update(deployable=deployable, reasons=reasons)
        if proceed_hook:
            return self.json(200 if deployable else 403, {**facts, "proceed": deployable})
        return self.json(403 if deployable else 200, {**facts, "rollback": not deployable})


class _HostCheck:
    """400 for a request whose ``Host`` header does not name this service.

    A web page can point a name of its own at the service's address (DNS rebinding) and
    have a browser on the same machine or network call it; the browser then sends the
    page's name as ``Host``. The read routes need no token, and ``GET /v1/check`` starts a
    suite run against a real target, so such requests are refused before any route runs.
    """

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            hosts = [value.decode("latin-1") for name, value in scope["headers"]
                     if name == b"host"]
            allowed = self.service.settings.allowed_hosts
            # Two Host headers could mean one thing here and another to a proxy: refused.
            if len(hosts) != 1 or not host_allowed(hosts[0], allowed):
                shown = one_line(hosts[0][:100]) if len(hosts) == 1 else f"{len(hosts)} headers"
                response = self.service.json(400, {"error": (
                    f"the Host header ({shown}) does not name this service; it answers to "
                    f"{', '.join(allowed)} (deployable serve --allowed-host NAME adds one)")})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(settings: Settings) -> Starlette:
    """The ASGI application serving ``settings``."""
    service = Service(settings)

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return service.json(exc.status, {"error": one_line(str(exc)), **exc.extra},
                            exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return service.json(exc.status_code, {"error": exc.detail}, dict(exc.headers or {}))

    async def crash(request: Request, exc: Exception) -> Response:
        # The traceback goes to the service's log, never to the caller.
        _LOG.error("internal error answering %s %s", request.method, request.url.path,
                   exc_info=(type(exc), exc, exc.__traceback__))
        return service.json(500, {"error": "internal error; see the service's log"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if service.runner is not None:
                service.runner.stop_all()
            service.ledger.close()

    def get(path: str, handler: Callable[[Request], Awaitable[Response]]) -> Route:
        return Route(path, handler, methods=["GET"])

    routes = [
        get("/", service.page), get("/healthz", service.healthz),
        get("/v1/can-i-deploy", service.can_i_deploy), get("/v1/check", service.check),
        Route("/v1/verdicts", service.record_verdict, methods=["POST"]),
        Route("/v1/deployments", service.record_deployment, methods=["POST"]),
        Route("/v1/flagger/{hook}", service.flagger, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(_HostCheck, service=service)], exception_handlers={
        Problem: problem, HTTPException: http_error, Exception: crash})
    app.state.service = service
    return app
