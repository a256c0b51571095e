"""``deployable serve``: its options, the checks at start-up, and running uvicorn.

Importing this module imports neither Starlette nor uvicorn nor any database
code; the command imports them when it runs, and says which extra to install
when they are missing. The socket is bound here, before uvicorn starts, so that
"address in use" is one line and exit 3, and ``--listen 127.0.0.1:0`` prints the
port it got.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..durations import parse_duration
from ..ledger.commands import (
    EXIT_USAGE,
    PROG,
    CommandFailed,
    command,
    ledger_setup,
    missing_extra,
    print_line,
)
from ..untrusted import one_line
from .settings import (
    DEFAULT_LISTEN,
    LOOPBACK_NAMES,
    MAX_BODY,
    MIN_TOKEN_LENGTH,
    Settings,
    is_loopback,
    parse_allowed_host,
    parse_listen,
)

__all__ = ["EXIT_CANNOT_LISTEN", "SERVE_EXIT_CODES", "add_command"]

EXIT_CANNOT_LISTEN = 3

SERVE_EXIT_CODES = """\
exit codes:
  0  stopped by SIGINT (Ctrl-C); on SIGTERM it shuts down the same way, then
     ends by that signal, as uvicorn does (systemd counts that as a clean stop)
  2  usage error: bad options, a bad targets or policy file or key, a token
     shorter than 16 characters, or the serve extra not installed
  3  cannot listen on the address (in use, not this machine's, no permission)"""


def _listen(text: str) -> tuple[str, int]:
    try:
        return parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _allowed_host(text: str) -> str:
    try:
        return parse_allowed_host(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bytes(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a number of bytes of 1 or more, not {text!r}")
    return int(text)


def add_command(commands: Any) -> None:
    """Add ``serve`` to the ``deployable`` parser's subparsers."""
    serve = commands.add_parser(
        "serve", help="serve the ledger and the gate over HTTP, for delivery controllers",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=SERVE_EXIT_CODES,
        description="Answer can-i-deploy, run the suite on demand, and record verdicts and "
        "deployments over HTTP, for Argo Rollouts, Flagger, Spinnaker and runners without "
        "database credentials. Listens on loopback unless told otherwise; without "
        "--token-env the service is read-only.",
    )
    serve.add_argument("--listen", metavar="HOST:PORT", type=_listen,
                       default=parse_listen(DEFAULT_LISTEN),
                       help=f"where to listen (default {DEFAULT_LISTEN}; port 0: any free "
                       "port, printed at start)")
    serve.add_argument("--allowed-host", metavar="NAME", type=_allowed_host, action="append",
                       default=[],
                       help="a name requests must carry in their Host header, such as "
                       "deployable.example.com, *.example.com or * for any (repeatable); others "
                       "get 400. Default: the loopback names when listening on loopback, else any")
    serve.add_argument("--suite", metavar="PATH", type=Path,
                       help="the deployment checks GET /v1/check runs (a folder or file)")
    serve.add_argument("--token-env", metavar="NAME",
                       help="the environment variable holding the bearer token that write "
                       "routes need; without it the service is read-only")
    serve.add_argument("--cache", metavar="DURATION", type=_duration, default=30.0,
                       help="how long a check's answer is kept (default 30s; 0: never)")
    serve.add_argument("--check-timeout", metavar="DURATION", type=_duration, default=600.0,
                       help="a check run that takes longer is stopped and answered "
                       "INCONCLUSIVE (default 10m)")
    serve.add_argument("--policy", metavar="FILE",
                       help="the policy file (default: deploy-policy.toml beside the targets "
                       "file, or here): who must sign, for can-i-deploy and POST /v1/verdicts")
    serve.add_argument("--key", metavar="PUB", type=Path, action="append", default=[],
                       help="a public key trusted to sign the verdicts POST /v1/verdicts "
                       "accepts, for every target (repeatable); with one, unsigned verdicts "
                       "get 422")
    serve.add_argument("--max-body", metavar="BYTES", type=_bytes, default=MAX_BODY,
                       help=f"the largest request body accepted (default {MAX_BODY}); larger: "
                       "413")
    serve.add_argument("--ledger", metavar="URL",
                       help="the ledger (as for the ledger commands; default: "
                       "DEPLOYABLE_LEDGER, [ledger] url in the targets file, deploy-ledger.db)")
    serve.add_argument("--targets-file", metavar="PATH", type=Path,
                       help="the targets file (default: deploy-targets.toml here)")
    serve.set_defaults(run=command("serve", _serve), format="text")


def _settings(args: argparse.Namespace) -> Settings:
    """Every file read and checked: the mistakes are usage errors before the port opens."""
    from ..keys import KeyFileError, load_public_key
    from ..ledger.policy import find_policy_file
    from ..policy import PolicyError, load_policy

    setup = ledger_setup(args, need_targets=True)
    policy = None
    path = find_policy_file(args.policy, getattr(setup.targets, "path", None), setup.cwd)
    try:
        keys = tuple(load_public_key(key) for key in args.key)
        if path is not None:
            policy = load_policy(path)
            for name in policy.tables:  # every trusted key file read now, not on a request
                rules = policy.for_target(name)
                for key in rules.trusted_keys if rules else ():
                    load_public_key(key)
    except (KeyFileError, PolicyError) as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env) or None
        if token is None:
            print_line(sys.stderr, f"{PROG} serve: {args.token_env} is not set: the service is "
                               "read-only (write routes answer 403)")
        elif len(token) < MIN_TOKEN_LENGTH:
            raise CommandFailed(EXIT_USAGE, f"the token in {args.token_env} is shorter than "
                                f"{MIN_TOKEN_LENGTH} characters; use a random one, such as "
                                "`openssl rand -hex 32`")
    suite = args.suite
    if suite is not None:
        suite = (setup.cwd / suite).resolve()
        if not suite.exists():
            raise CommandFailed(EXIT_USAGE, f"--suite {args.suite}: no such file or folder")
    host, port = args.listen
    allowed = tuple(args.allowed_host)
    if not allowed:
        # On loopback only this machine's names can be meant; beyond it, the names a
        # controller uses (a Kubernetes service, a load balancer) are not known here.
        allowed = (*LOOPBACK_NAMES, host.lower()) if is_loopback(host) else ("*",)
    return Settings(host=host, port=port, ledger=setup.url, cwd=setup.cwd,
                    targets=setup.targets, policy=policy, keys=keys, token=token,
                    token_env=args.token_env, suite=suite, cache=args.cache,
                    check_timeout=args.check_timeout, max_body=args.max_body,
                    allowed_hosts=tuple(dict.fromkeys(allowed)))


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise CommandFailed(EXIT_CANNOT_LISTEN, f"cannot listen on {host}:{port}: "
                            f"{exc.strerror or exc}") from None


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .app import build_app
    except ImportError as exc:
        raise missing_extra(exc, "deployable serve", "serve") from None
    settings = _settings(args)
    sock = _bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    writes = (f"writes need the bearer token in {settings.token_env}" if settings.token
              else "read-only")
    say: Callable[[str], None] = lambda line: print_line(sys.stdout, one_line(line))  # noqa: E731
    say(f"{PROG} serve: listening on http://{shown}:{port} (ledger {settings.ledger.shown}; "
        f"{writes}; suite {settings.suite or 'none'})")
    if not is_loopback(settings.host):
        print_line(sys.stderr, f"{PROG} serve: listening beyond loopback ({settings.host}): put "
                           "TLS in front (a reverse proxy), the token travels in every write")
    config = uvicorn.Config(build_app(settings), log_level="warning", access_log=False,
                            server_header=False, proxy_headers=False, lifespan="on",
                            timeout_keep_alive=30,
                            # A check under way must not hold a stop for its whole timeout:
                            # after this, requests are cancelled and their runs killed.
                            timeout_graceful_shutdown=5)
    # uvicorn shuts down on SIGINT, then raises the KeyboardInterrupt it caught again.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
    return 0
