"""Helpers for tests of the examples: run the example shop service as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHOP = EXAMPLES / "service" / "shop.py"

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def free_port() -> int:
    """A loopback port that was free a moment ago (the OS may hand it out again later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningShop:
    """A shop service process started by a test, and where it writes."""

    process: subprocess.Popen[str]
    port: int
    request_log: Path
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        """The shop's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[dict[str, Any]]:
        """Every request the shop logged to its request log, oldest first."""
        if not self.request_log.exists():
            return []
        lines = self.request_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the process to end; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
                raise AssertionError(f"the shop ignored signal {sig} for {STOP_TIMEOUT}s") from None
        return self.process.returncode


def start_shop(
    workdir: Path,
    *,
    version: str = "1.0.0",
    broken: bool = False,
    port: int = 0,
    api_key: str | None = None,
    extra_args: Sequence[str] = (),
) -> RunningShop:
    """Start ``examples/service/shop.py`` and wait until its port file says it listens."""
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "shop.port"
    request_log = workdir / "requests.jsonl"
    stdout, stderr = workdir / "shop.out", workdir / "shop.err"
    args = [sys.executable, str(SHOP), "--port", str(port), "--version", version,
            "--port-file", str(port_file), "--request-log", str(request_log), *extra_args]
    if broken:
        args.append("--broken")
    env = {key: value for key, value in os.environ.items() if key != "SHOP_API_KEY"}
    if api_key is not None:
        env["SHOP_API_KEY"] = api_key
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err, env=env, text=True)
    deadline = time.monotonic() + START_TIMEOUT
    while not port_file.exists():
        if process.poll() is not None:
            raise AssertionError(
                f"the shop exited with {process.returncode}: {stderr.read_text()}"
            )
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise AssertionError(f"the shop did not listen within {START_TIMEOUT}s")
        time.sleep(0.02)
    return RunningShop(process, int(port_file.read_text()), request_log, stdout, stderr)


@contextmanager
def running_shop(workdir: Path, **options: Any) -> Iterator[RunningShop]:
    """A shop for the duration of a ``with`` block, stopped even if the block fails."""
    shop = start_shop(workdir, **options)
    try:
        yield shop
    finally:
        if shop.process.poll() is None:
            shop.process.kill()
            shop.process.wait(timeout=STOP_TIMEOUT)
