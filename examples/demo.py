"""The ``make demo`` driver: one deploy-check suite, a good and a broken build, three verdicts.

Run it from anywhere with the Python that has pytest-deployable installed::

    python examples/demo.py [--workdir .demo]

It starts the example shop service (``examples/service/shop.py``) on a free
loopback port, runs the deploy checks in ``examples/deploy`` against it with
``pytest --deploy-target=...``, and asks ``deployable gate`` about each verdict.
It exits 0 only when every step behaved as designed, otherwise 1 with a line
naming the step and the expectation that failed. Every service it starts is
stopped again, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "service" / "shop.py"
SUITE = ROOT / "examples" / "deploy"
GOOD_VERSION = "1.4.2"
BROKEN_VERSION = "1.5.0"
SCHEMA_VERSION = "1.6.0"
ALEMBIC_INI = ROOT / "examples" / "service" / "alembic.ini"
STEPS = 10
DESTRUCTIVE_CHECK = "test_created_item_can_be_read_back"
METRIC_CHECKS = SUITE / "test_metrics.py"
#: How many requests the demo sends to the broken build as its users would, and the
#: share of them it answers with 500.
TRAFFIC = 40
ERROR_RATE = 0.25
PROMETHEUS_WAIT = 30.0

PYTEST_TIMEOUT = 60.0
GATE_TIMEOUT = 30.0
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

#: Environment variables that would change what the demo's pytest runs do.
_ISOLATE = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "DEPLOYABLE_TARGET", "DEPLOYABLE_VERSION",
            "DEPLOYABLE_SIGNING_KEY")
#: The demo's policy: what a verdict for the local target must show beyond "it passed".
POLICY = """\
[policy.local]
require_signature = true
trusted_keys = ["keys/ci.pub"]          # relative to this file
required_checks = ["test_smoke.py::test_health_says_ok", "test_contract.py::*"]
min_checks = 5
allow_warnings = false
max_age = "10m"
"""
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

INTRO = f"""\
pytest-deployable demo
======================
A team keeps its deployment checks as ordinary pytest tests (examples/deploy).
This demo runs those same checks against two builds of a small shop service
(examples/service/shop.py) on this machine, and shows the verdict that decides
whether a build may ship. Nothing leaves 127.0.0.1.

  1. Start the good build ({GOOD_VERSION}) of the shop on a free local port, and
     generate the key that signs verdicts (deployable keygen).
  2. Run the deploy checks against it, signing the verdict: expect DEPLOYABLE (exit 0).
  3. Ask the gate whether {GOOD_VERSION} may ship, trusting only the public key and
     applying a policy (deploy-policy.toml): expect yes (exit 0).
  4. Replace it with a broken build ({BROKEN_VERSION}) that sends item prices as text.
  5. Run the same checks: expect NOT_DEPLOYABLE (exit 1), with the reasons.
  6. Ask the gate whether {BROKEN_VERSION} may ship: expect no (non-zero exit).
  7. Verify the good build as protected production (target local-prod): expect the
     check that creates an item to be refused, and no POST to reach the shop.
  8. Every run was recorded in a ledger (a SQLite file); ask it whether each build
     may go to local-prod, whose rule says promote_from = ["local"]: expect yes for
     {GOOD_VERSION} and no for {BROKEN_VERSION} (deployable can-i-deploy).
  9. Release {SCHEMA_VERSION} needs database migration 0002, which has not run (target
      local-db): expect NOT_DEPLOYABLE (exit 1), held by the schema check.
  10. Run the migration (alembic upgrade head) and check again: expect DEPLOYABLE (exit 0).
  Then, if Prometheus is installed: metric analysis. The broken build answers some
  requests with 500; Prometheus scrapes the shop, and the check that the error rate
  stays under 1% holds the release (NOT_DEPLOYABLE), with the query and its value.
"""


class Unexpected(Exception):
    """A step did not behave as designed; the message says which expectation failed."""


def _rel(path: Path) -> str:
    """A path as the newcomer would type it from the project root."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _shown(args: Sequence[str]) -> str:
    """A command line as a person would type it: ``python``, paths relative to the root."""
    shown = ["python" if arg == sys.executable else arg for arg in args]
    return shlex.join(shown)


@dataclass
class Shop:
    """One running shop service process and the files it writes."""

    label: str
    process: subprocess.Popen[bytes]
    port: int
    request_log: Path
    output: Path

    def requests(self) -> list[dict[str, Any]]:
        """The requests the shop has logged so far, oldest first."""
        if not self.request_log.exists():
            return []
        lines = self.request_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def stop(self) -> None:
        """Stop the shop: SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


class Demo:
    """Runs the seven steps, remembering what it started so it can always stop it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.shops: list[Shop] = []
        self.prometheus: subprocess.Popen[bytes] | None = None
        # A fresh key per run: the shop demands it, the targets file sends it,
        # and step 7 checks it never reached a verdict file or the terminal.
        self.api_key = secrets.token_urlsafe(18)
        self.outputs: list[str] = []
        self.current = "before step 1"
        self.env = {k: v for k, v in os.environ.items() if k not in _ISOLATE}
        self.env["SHOP_API_KEY"] = self.api_key
        self.env["PYTHONUNBUFFERED"] = "1"  # so pytest's lines stream as they happen
        self.key_prefix = workdir / "keys" / "ci"
        self.policy = workdir / "deploy-policy.toml"
        #: What the demo deployed where, for the report: (target, version, status, when).
        self.deployments: list[tuple[str, str, str, datetime]] = []

    # -- the steps ---------------------------------------------------------------------------

    def run(self) -> None:
        """All seven steps; raises :class:`Unexpected` at the first surprise."""
        print(INTRO)
        self.workdir.mkdir(parents=True, exist_ok=True)
        good_verdict = self.workdir / "good.json"
        broken_verdict = self.workdir / "broken.json"
        prod_verdict = self.workdir / "prod.json"
        for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
            (self.workdir / name).unlink(missing_ok=True)  # a fresh ledger every demo

        self.step(1, f"start the good build ({GOOD_VERSION}) of the shop")
        started = datetime.now(timezone.utc)
        shop = self.start_shop("good", GOOD_VERSION, broken=False)
        self.make_key_and_policy()

        self.step(2, "run the deploy checks against it (target local), signing the verdict")
        code = self.pytest(shop, "local", GOOD_VERSION, good_verdict)
        verdict = self.verdict(good_verdict, code)
        self.expect(code == 0 and verdict["verdict"] == "DEPLOYABLE",
                    f"expected exit 0 and DEPLOYABLE, got exit {code} and {verdict['verdict']}")
        posts = [r for r in shop.requests() if r["method"] == "POST"]
        self.expect(len(posts) == 1,
                    f"expected the destructive check to POST once to the unprotected target, "
                    f"saw {len(posts)} POSTs")
        self.ok(f"exit 0, verdict DEPLOYABLE; on this unprotected target the destructive "
                f"check created an item ({len(posts)} POST in the shop's request log)")
        self.deployments.append(("local", GOOD_VERSION, "succeeded", started))

        self.step(3, f"ask the gate whether {GOOD_VERSION} may ship (signature and policy)")
        code = self.gate(good_verdict, "local", GOOD_VERSION)
        self.expect(code == 0, f"expected the gate to pass (exit 0), got exit {code}")
        self.ok("the gate passes: exit 0")
        self.ok("the signature verified with the public key, and the verdict meets the policy")

        self.step(4, f"replace it with the broken build ({BROKEN_VERSION})")
        shop.stop()
        started = datetime.now(timezone.utc)
        shop = self.start_shop("broken", BROKEN_VERSION, broken=True)

        self.step(5, "run the same deploy checks against the broken build")
        code = self.pytest(shop, "local", BROKEN_VERSION, broken_verdict)
        verdict = self.verdict(broken_verdict, code)
        self.deployments.append(("local", BROKEN_VERSION, "failed", started))
        self.expect(code == 1 and verdict["verdict"] == "NOT_DEPLOYABLE",
                    f"expected exit 1 and NOT_DEPLOYABLE, got exit {code} and "
                    f"{verdict['verdict']}")
        self.ok("exit 1, verdict NOT_DEPLOYABLE, because:")
        for reason in verdict.get("reasons", []):
            print(f"     - {reason}")

        self.step(6, f"ask the gate whether {BROKEN_VERSION} may ship")
        code = self.gate(broken_verdict, "local", BROKEN_VERSION)
        self.expect(code != 0, "expected the gate to refuse the broken build, but it exited 0")
        self.ok(f"the gate refuses: exit {code}; a pipeline would stop here")

        self.step(7, "verify the good build as protected production (target local-prod)")
        shop.stop()
        started = datetime.now(timezone.utc)
        shop = self.start_shop("prod", GOOD_VERSION, broken=False)
        code = self.pytest(shop, "local-prod", GOOD_VERSION, prod_verdict)
        verdict = self.verdict(prod_verdict, code)
        self.expect(code == 0 and verdict["verdict"].startswith("DEPLOYABLE"),
                    f"expected exit 0 and a DEPLOYABLE verdict, got exit {code} and "
                    f"{verdict['verdict']}")
        refused = [c["id"] for c in verdict.get("checks", []) if c.get("outcome") == "refused"]
        self.expect(any(check.endswith(DESTRUCTIVE_CHECK) for check in refused),
                    f"expected {DESTRUCTIVE_CHECK} to be refused, refused checks: {refused}")
        seen = shop.requests()
        writes = [r for r in seen if r["method"] in _STATE_CHANGING]
        self.expect(bool(seen), "expected the checks to reach the shop, its request log is empty")
        self.expect(not writes, f"expected no state-changing request, the shop logged {writes}")
        self.ok(f"exit 0, verdict {verdict['verdict']}; refused: {', '.join(refused)}")
        self.deployments.append(("local-prod", GOOD_VERSION, "succeeded", started))
        if verdict["verdict"] == "DEPLOYABLE_WITH_WARNINGS":
            self.ok("(a refused check is a warning: the release is fine, but one check could "
                    "not run here)")
        self.ok(f"the shop logged {len(seen)} requests, none of them a POST, PUT, PATCH or DELETE")
        shop.stop()
        self.step(8, "ask the ledger whether each build may go to local-prod")
        code = self.can_i_deploy(GOOD_VERSION)
        self.expect(code == 0, f"expected can-i-deploy to say yes (exit 0) for {GOOD_VERSION}, "
                               f"got exit {code}")
        self.ok(f"yes for {GOOD_VERSION}: its latest verdict on local is complete and "
                "DEPLOYABLE (exit 0)")
        code = self.can_i_deploy(BROKEN_VERSION)
        self.expect(code == 1, f"expected can-i-deploy to say no (exit 1) for "
                               f"{BROKEN_VERSION}, got exit {code}")
        self.ok(f"no for {BROKEN_VERSION}: its latest verdict on local is NOT_DEPLOYABLE "
                "(exit 1)")

        held_verdict, migrated_verdict = self.schema_steps()
        self.check_secret_kept([good_verdict, broken_verdict, prod_verdict, held_verdict,
                                migrated_verdict])
        self.metric_analysis()
        page = self.report()

        print(f"\nAll {STEPS} steps behaved as designed. Verdict files and the ledger are in "
              f"{_rel(self.workdir)}/.")
        if page is not None:
            print(f"Open the report page: {page.as_uri()}")

    def report(self) -> Path | None:
        """Record what the demo deployed, print the DORA metrics, and write the report page.

        Skipped (with a line saying so, and exit 0) without the report extra (Jinja2).
        """
        self.current = "the report page"
        print("\n== The report page: what the ledger knows, for the whole team ==", flush=True)
        if importlib.util.find_spec("jinja2") is None:
            self.ok("skipped: the report page needs Jinja2 (pip install -e '.[report]')")
            return None
        deployable = [sys.executable, "-m", "pytest_deployable"]
        commit_time = _commit_time()
        for target, version, status, at in self.deployments:
            args = [*deployable, "record-deployment", "--target", target, "--version", version,
                    "--status", status, "--time", at.isoformat(timespec="seconds"),
                    "--ledger", self.ledger]
            if commit_time is not None and commit_time <= at:
                args += ["--commit-time", commit_time.isoformat()]
            code = self.command(args, GATE_TIMEOUT)
            self.expect(code == 0, f"expected record-deployment to exit 0, got exit {code}")
        code = self.command([*deployable, "metrics", "--target", "local", "--ledger",
                             self.ledger], GATE_TIMEOUT)
        self.expect(code == 0, f"expected deployable metrics to exit 0, got exit {code}")
        site = self.workdir / "report"
        code = self.command([*deployable, "report", "-o", _rel(site), "--ledger", self.ledger],
                            GATE_TIMEOUT)
        page = site / "index.html"
        self.expect(code == 0 and page.is_file(),
                    f"expected deployable report to write {_rel(page)}, got exit {code}")
        self.ok(f"wrote {_rel(page)}: every verdict the demo recorded, the promotion matrix "
                "and the DORA metrics of its deployments, in one file that fetches nothing")
        return page

    def metric_analysis(self) -> None:
        """The broken build's error rate, measured by a real Prometheus, holds the release.

        Skipped (with a line saying so, and exit 0) where Prometheus is not installed:
        the demo must run on a machine with only Python and make.
        """
        self.current = "metric analysis (Prometheus)"
        print("\n== Metric analysis (Prometheus): the broken build's error rate ==", flush=True)
        binary = shutil.which("prometheus")
        if binary is None:
            self.ok("skipped: Prometheus is not installed on this machine (Debian: "
                    "apt-get install prometheus); the numbered steps do not need it")
            return
        if importlib.util.find_spec("prometheus_client") is None:
            self.ok("skipped: prometheus_client is not installed in this Python, so the shop "
                    "has no /metrics (pip install -e '.[metrics-example]')")
            return
        verdict_path = self.workdir / "metrics.json"
        shop = self.start_shop("metrics", BROKEN_VERSION, broken=True,
                               extra=["--error-rate", str(ERROR_RATE)])
        port = self.start_prometheus(binary, shop)
        url = f"http://127.0.0.1:{port}"
        self.wait_for_prometheus(url, 'up{job="shop"} == 1', 1)
        failed = self.send_traffic(shop)
        self.wait_for_prometheus(url, "sum(shop_http_requests_total)", TRAFFIC)
        self.ok(f"sent {TRAFFIC} requests to /items as users would ({failed} answered 500); "
                "Prometheus has scraped them")
        verdict_path.unlink(missing_ok=True)
        args = [sys.executable, "-m", "pytest", _rel(METRIC_CHECKS),
                "--deploy-target=local-metrics", f"--deploy-version={BROKEN_VERSION}",
                f"--deploy-verdict={_rel(verdict_path)}", "-q", "--tb=line",
                f"--deploy-sign-key={_rel(self.key_prefix)}.key"]
        code = self.command(args, PYTEST_TIMEOUT, SHOP_PORT=str(shop.port),
                            PROMETHEUS_PORT=str(port))
        verdict = self.verdict(verdict_path, code)
        self.expect(code == 1 and verdict["verdict"] == "NOT_DEPLOYABLE",
                    f"expected exit 1 and NOT_DEPLOYABLE, got exit {code} and "
                    f"{verdict['verdict']}")
        evaluations = [e for c in verdict.get("checks", []) for e in c.get("metrics", [])]
        self.expect(bool(evaluations) and evaluations[-1].get("passed") is False,
                    f"expected a failed metric evaluation in the verdict, found {evaluations}")
        last = evaluations[-1]
        self.ok("exit 1, verdict NOT_DEPLOYABLE: the release is held because its error "
                "rate rose. The verdict file records:")
        print(f"     query: {last['query']}")
        print(f"     value: {last['value']} at {last['time']} (expected {last['condition']})")
        code = self.gate(verdict_path, "local-metrics", BROKEN_VERSION)
        self.expect(code != 0, "expected the gate to refuse the release, but it exited 0")
        self.ok(f"the gate refuses: exit {code}")
        self.stop_prometheus()
        shop.stop()

    def start_prometheus(self, binary: str, shop: Shop) -> int:
        """Start Prometheus on a free loopback port, scraping the shop every second."""
        data = self.workdir / "prometheus-data"
        shutil.rmtree(data, ignore_errors=True)  # no series from an earlier demo
        config = self.workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n"
            "scrape_configs:\n  - job_name: shop\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{shop.port}']\n",
            encoding="utf-8",
        )
        port = _free_port()
        log = self.workdir / "prometheus.log"
        args = [binary, f"--config.file={_rel(config)}", f"--storage.tsdb.path={_rel(data)}",
                f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
        print(f"$ {_shown(args)}", flush=True)
        with log.open("wb") as handle:
            self.prometheus = subprocess.Popen(args, cwd=ROOT, stdout=handle,
                                               stderr=subprocess.STDOUT)
        self.ok(f"Prometheus on http://127.0.0.1:{port} scrapes the shop's /metrics every "
                f"second; its log: {_rel(log)}")
        return port

    def wait_for_prometheus(self, url: str, promql: str, at_least: float) -> None:
        """Ask Prometheus until ``promql`` has one sample of ``at_least`` or more."""
        deadline = time.monotonic() + PROMETHEUS_WAIT
        query = urllib.parse.urlencode({"query": promql})
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=5) as answer:
                    result = json.loads(answer.read())["data"]["result"]
                if len(result) == 1 and float(result[0]["value"][1]) >= at_least:
                    return
            except (OSError, ValueError, KeyError, TypeError):
                pass  # not listening yet
            if self.prometheus is not None and self.prometheus.poll() is not None:
                raise Unexpected(f"Prometheus exited with {self.prometheus.returncode}; "
                                 f"see {_rel(self.workdir / 'prometheus.log')}")
            if time.monotonic() > deadline:
                raise Unexpected(f"Prometheus did not report {promql} >= {at_least:g} within "
                                 f"{PROMETHEUS_WAIT:.0f}s")
            time.sleep(0.2)

    def send_traffic(self, shop: Shop) -> int:
        """Send ``TRAFFIC`` GET /items to the shop; return how many were answered with 500."""
        failed = 0
        for _ in range(TRAFFIC):
            request = urllib.request.Request(f"http://127.0.0.1:{shop.port}/items",
                                             headers={"X-Api-Key": self.api_key})
            try:
                with urllib.request.urlopen(request, timeout=5):
                    pass
            except urllib.error.HTTPError as exc:
                failed += exc.code == 500
        return failed

    def stop_prometheus(self) -> None:
        process, self.prometheus = self.prometheus, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)

    def schema_steps(self) -> tuple[Path, Path]:
        """Steps 9 and 10: a release held until its database migration has run."""
        held_verdict = self.workdir / "schema-held.json"
        migrated_verdict = self.workdir / "schema-migrated.json"
        database = self.workdir / "shop.db"
        database.unlink(missing_ok=True)
        self.env["SHOP_DB"] = str(database)

        self.step(9, f"release {SCHEMA_VERSION} on a database whose migration has not run")
        self.alembic("upgrade", "0001")
        self.ok("the database is at revision 0001; this release's migrations end at 0002")
        shop = self.start_shop("schema", SCHEMA_VERSION, broken=False, database=database)
        code = self.pytest(shop, "local-db", SCHEMA_VERSION, held_verdict)
        verdict = self.verdict(held_verdict, code)
        self.expect(code == 1 and verdict["verdict"] == "NOT_DEPLOYABLE",
                    f"expected exit 1 and NOT_DEPLOYABLE, got exit {code} and "
                    f"{verdict['verdict']}")
        schema = [c for c in verdict.get("checks", []) if c.get("id") == "deployable::schema"]
        self.expect(bool(schema) and schema[0].get("outcome") == "failed",
                    f"expected the schema check to fail, got {schema}")
        self.expect("found '0001'" in str(schema[0].get("message")),
                    f"expected the schema check to name revision 0001: {schema[0]}")
        self.ok("exit 1, verdict NOT_DEPLOYABLE, because:")
        for reason in verdict.get("reasons", []):
            print(f"     - {reason}")
        print(f"     deployable::schema: {schema[0]['message']}")

        self.step(10, "run the migration (alembic upgrade head), then check again")
        self.alembic("upgrade", "head")
        code = self.pytest(shop, "local-db", SCHEMA_VERSION, migrated_verdict)
        verdict = self.verdict(migrated_verdict, code)
        self.expect(code == 0 and verdict["verdict"] == "DEPLOYABLE",
                    f"expected exit 0 and DEPLOYABLE, got exit {code} and {verdict['verdict']}")
        self.ok("exit 0, verdict DEPLOYABLE: the database is at the release's revision 0002")
        shop.stop()
        return held_verdict, migrated_verdict

    # -- helpers -----------------------------------------------------------------------------

    def alembic(self, *command: str) -> None:
        """Run Alembic on the demo's SQLite database, as a release pipeline's migrate step."""
        args = [sys.executable, "-m", "alembic", "-c", _rel(ALEMBIC_INI), *command]
        url = f"sqlite:///{self.env['SHOP_DB']}"
        code = self.command(args, GATE_TIMEOUT, SHOP_DATABASE_URL=url)
        self.expect(code == 0, f"expected alembic {' '.join(command)} to exit 0, got {code}")

    def step(self, number: int, title: str) -> None:
        """Announce a step so the newcomer can follow along in the plan printed first."""
        self.current = f"step {number} ({title})"
        print(f"\n== Step {number} of {STEPS}: {title} ==", flush=True)

    @staticmethod
    def ok(message: str) -> None:
        """Say that an expectation held."""
        print(f"  -> {message}", flush=True)

    @staticmethod
    def expect(condition: bool, message: str) -> None:
        """Stop the demo with ``message`` unless ``condition`` holds."""
        if not condition:
            raise Unexpected(message)

    def start_shop(self, label: str, version: str, *, broken: bool,
                   database: Path | None = None, extra: Sequence[str] = ()) -> Shop:
        """Start a shop on a free loopback port and wait until it listens."""
        port_file = self.workdir / f"{label}.port"
        request_log = self.workdir / f"{label}-requests.jsonl"
        output = self.workdir / f"{label}-service.log"
        port_file.unlink(missing_ok=True)
        request_log.unlink(missing_ok=True)
        args = [sys.executable, _rel(SHOP), "--port", "0", "--version", version,
                "--port-file", _rel(port_file), "--request-log", _rel(request_log)]
        if broken:
            args.append("--broken")
        if database is not None:
            args += ["--database", _rel(database)]
        args.extend(extra)
        print(f"$ {_shown(args)}", flush=True)
        with output.open("wb") as log:
            # The shop logs every request; that goes to a file, not between pytest's lines.
            process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT)
        shop = Shop(label, process, 0, request_log, output)
        self.shops.append(shop)
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            if process.poll() is not None:
                raise Unexpected(f"the shop exited with {process.returncode} while starting; "
                                 f"see {_rel(output)}")
            if time.monotonic() > deadline:
                raise Unexpected(f"the shop did not listen within {START_TIMEOUT:.0f}s; "
                                 f"see {_rel(output)}")
            time.sleep(0.05)
        shop.port = int(port_file.read_text(encoding="utf-8"))
        self.ok(f"shop {version} ({'broken' if broken else 'good'} build) listening on "
                f"http://127.0.0.1:{shop.port}; its log: {_rel(output)}")
        return shop

    def make_key_and_policy(self) -> None:
        """A signing key for this run (as a CI secret would hold it) and the policy beside it."""
        self.key_prefix.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".key", ".pub"):
            Path(f"{self.key_prefix}{suffix}").unlink(missing_ok=True)
        args = [sys.executable, "-m", "pytest_deployable", "keygen", _rel(self.key_prefix)]
        code = self.command(args, GATE_TIMEOUT)
        self.expect(code == 0, f"expected deployable keygen to exit 0, got exit {code}")
        self.policy.write_text(POLICY, encoding="utf-8")
        self.ok(f"the private key signs verdicts; the gate trusts {_rel(self.key_prefix)}.pub "
                f"and applies {_rel(self.policy)}:")
        for line in POLICY.strip().splitlines():
            print(f"     {line}")

    def pytest(self, shop: Shop, target: str, version: str, verdict: Path) -> int:
        """Run the deploy-check suite against ``shop`` as ``target``; return pytest's exit code."""
        verdict.unlink(missing_ok=True)
        # examples/deploy has its own pytest.ini, so it is the rootdir of this run:
        # deploy-targets.toml beside it is found, and this project's own pytest
        # settings (pyproject.toml) stay out. --tb=line keeps failures to their message.
        args = [sys.executable, "-m", "pytest", _rel(SUITE), f"--deploy-target={target}",
                f"--deploy-version={version}", f"--deploy-verdict={_rel(verdict)}", "-q",
                "--tb=line", f"--deploy-sign-key={_rel(self.key_prefix)}.key",
                f"--deploy-ledger={self.ledger}"]
        if sys.stdout.isatty():
            args.append("--color=yes")
        return self.command(args, PYTEST_TIMEOUT, SHOP_PORT=str(shop.port))

    @property
    def ledger(self) -> str:
        """The demo's ledger: a SQLite file in the work folder."""
        return f"sqlite:///{_rel(self.workdir / 'ledger.db')}"

    def can_i_deploy(self, version: str) -> int:
        """Ask ``deployable can-i-deploy`` whether ``version`` may go to local-prod."""
        args = [sys.executable, "-m", "pytest_deployable", "can-i-deploy", "--version", version,
                "--to", "local-prod", "--targets-file", _rel(SUITE / "deploy-targets.toml"),
                "--ledger", self.ledger]
        return self.command(args, GATE_TIMEOUT)

    def gate(self, verdict: Path, target: str, version: str) -> int:
        """Ask ``deployable gate`` about a verdict file; return its exit code."""
        args = [sys.executable, "-m", "pytest_deployable", "gate", _rel(verdict),
                "--target", target, "--version", version,
                "--key", f"{_rel(self.key_prefix)}.pub", "--policy", _rel(self.policy)]
        return self.command(args, GATE_TIMEOUT)

    def command(self, args: list[str], timeout: float, **env: str) -> int:
        """Run a command from the project root, streaming its output indented; return its code."""
        print("$ " + " ".join([*(f"{k}={v}" for k, v in env.items()), _shown(args)]), flush=True)
        process = subprocess.Popen(args, cwd=ROOT, env={**self.env, **env},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        lines: list[str] = []
        pump = threading.Thread(target=_stream, args=(process.stdout, lines), daemon=True)
        pump.start()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Unexpected(f"{_shown(args[:4])} ... did not finish within {timeout:.0f}s") \
                from None
        finally:
            # Also on Ctrl-C: never leave a child behind.
            if process.poll() is None:
                process.kill()
                process.wait()
            pump.join(timeout=STOP_TIMEOUT)
        self.outputs.append("".join(lines))
        return code

    @staticmethod
    def statement(path: Path) -> dict[str, Any]:
        """The plugin's part of a verdict file, signed (a DSSE envelope) or not."""
        document = json.loads(path.read_text(encoding="utf-8"))
        if "payloadType" in document:
            document = json.loads(base64.b64decode(document["payload"]))
        data: dict[str, Any] = document["predicate"]["deployability"]
        return data

    def verdict(self, path: Path, code: int) -> dict[str, Any]:
        """The plugin's part of the verdict file a run with exit ``code`` wrote."""
        try:
            data = self.statement(path)
            if not isinstance(data.get("verdict"), str):
                raise KeyError("predicate.deployability.verdict")
        except FileNotFoundError:
            raise Unexpected(
                f"expected a verdict file at {_rel(path)}, but pytest exited {code} without one"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise Unexpected(f"{_rel(path)} is not a readable verdict: {exc!r}") from None
        return dict(data)

    def check_secret_kept(self, files: list[Path]) -> None:
        """The shop's API key, read from the environment, appears in no file and no output."""
        # A signed verdict carries its statement base64-encoded: search the decoded one.
        texts = {_rel(path): path.read_text(encoding="utf-8") + json.dumps(self.statement(path))
                 for path in files}
        texts["the terminal output"] = "".join(self.outputs)
        leaks = [name for name, text in texts.items() if self.api_key in text]
        self.expect(not leaks, f"expected the API key to stay secret, it appears in {leaks}")
        key = Path(f"{self.key_prefix}.key").read_text(encoding="ascii").splitlines()[1]
        leaks = [name for name, text in texts.items() if key in text]
        self.expect(not leaks, f"expected the signing key to stay secret, it appears in {leaks}")
        self.ok("the API key sent in X-Api-Key and the signing key appear in no verdict file "
                "and no output")

    def stop_all(self) -> None:
        """Stop every shop, and Prometheus, this demo started."""
        self.stop_prometheus()
        for shop in self.shops:
            shop.stop()


def _stream(source: IO[bytes], lines: list[str]) -> None:
    """Echo a child's output indented, line by line, and keep a copy."""
    for raw in source:
        line = raw.decode("utf-8", errors="replace")
        lines.append(line)
        sys.stdout.write(f"   | {line}")
        sys.stdout.flush()


def _commit_time() -> datetime | None:
    """The time of the commit the demo runs (the lead time's start); None outside git."""
    try:
        found = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%cI"],
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        return datetime.fromisoformat(found.stdout.strip()) if found.returncode == 0 else None
    except ValueError:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM (a CI job's timeout, a killed make) like Ctrl-C, so the shop is stopped."""
    raise KeyboardInterrupt


def _plugin_installed() -> bool:
    return any(ep.name == "deployable" for ep in entry_points(group="pytest11"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; 0 when every step behaved as designed, 1 otherwise, 130 on Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".demo",
                        help="where verdicts and service logs go (default: .demo)")
    args = parser.parse_args(argv)
    if not _plugin_installed():
        print("demo FAILED: pytest-deployable is not installed in this Python; "
              "run `python -m pip install -e .` in the project first", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _interrupt)
    demo = Demo(args.workdir.resolve())
    try:
        demo.run()
    except Unexpected as exc:
        print(f"\ndemo FAILED at {demo.current}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted; stopping the shop", file=sys.stderr)
        return 130
    finally:
        demo.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
