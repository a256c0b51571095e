"""``GET /v1/check``: run the suite against a target now, as a real ``pytest`` process.

One run per target at a time: a caller asking for a target and version whose run
is under way waits for that run's answer instead of starting another; a caller
asking for another version of a busy target waits for the target. Answers are
kept for ``--cache`` seconds. A run that outlives ``--check-timeout`` is
interrupted (SIGINT, so pytest writes and records an INCONCLUSIVE verdict), then
killed with its whole process group, and answered INCONCLUSIVE.

The answer is deployable only when the process exited 0 *and* the verdict file it
wrote passes ``deployable gate`` for that target and version: a suite that exits 0
without a verdict, or whose verdict could not be recorded (exit 6), is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..attestation import format_time
from ..durations import format_interval
from ..gate import VerdictFileError, gate_file
from ..ledger.documents import read_document
from ..redact import Redactor
from ..verdict import Decision

__all__ = ["OUTPUT_LIMIT", "CheckAnswer", "CheckRunner"]

#: The end of a run's output kept in its answer (the start is rarely the news).
OUTPUT_LIMIT = 64 * 1024
#: How long an interrupted run gets to write its INCONCLUSIVE verdict before it is killed.
GRACE = 10.0
_PASSING = (Decision.DEPLOYABLE.value, Decision.DEPLOYABLE_WITH_WARNINGS.value)


@dataclass(frozen=True)
class CheckAnswer:
    """What one run found: the verdict, why, and the process's redacted output."""

    target: str
    version: str
    verdict: str
    reasons: tuple[str, ...]
    exit_code: int | None
    """pytest's exit code; None when it had to be stopped."""
    run: int
    """The run's number since the service started: equal numbers are one run."""
    started_on: datetime
    finished_on: datetime
    output: str
    digest: str | None = None
    """The sha256 of the recorded statement, as the ledger names it (``sha256:…``)."""

    @property
    def deployable(self) -> bool:
        """Whether the answer lets a deployment proceed (200)."""
        return self.verdict in _PASSING

    def to_dict(self, *, cached: bool) -> dict[str, Any]:
        """The JSON answer."""
        return {"target": self.target, "version": self.version, "verdict": self.verdict,
                "deployable": self.deployable, "reasons": list(self.reasons),
                "exitCode": self.exit_code, "run": self.run, "cached": cached,
                "digest": self.digest, "startedOn": format_time(self.started_on),
                "finishedOn": format_time(self.finished_on), "output": self.output}


class CheckRunner:
    """Runs the suite, one process per target at a time, answers cached (see the module)."""

    def __init__(self, suite: Path, *, env: Mapping[str, str], cache: float, timeout: float,
                 redact: Redactor, targets_file: Path | None = None) -> None:
        self.suite = suite
        self.env = dict(env)
        self.cache = cache
        self.timeout = timeout
        self.redact = redact
        self.targets_file = targets_file
        self.runs = 0
        """Runs started since the service started."""
        self.waiting = 0
        """Callers waiting for an answer now (for /healthz, and the tests that count)."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._running: dict[tuple[str, str], asyncio.Future[CheckAnswer]] = {}
        self._answers: dict[tuple[str, str], tuple[float, CheckAnswer]] = {}
        self._processes: set[asyncio.subprocess.Process] = set()

    @property
    def running(self) -> list[str]:
        """The targets a run is under way for."""
        return sorted({target for target, _ in self._running})

    async def check(self, target: str, version: str) -> tuple[CheckAnswer, bool]:
        """The answer for ``target`` and ``version``, and whether it came from the cache."""
        key = (target, version)
        kept = self._answers.get(key)
        if kept is not None and time.monotonic() - kept[0] < self.cache:
            return kept[1], True
        future = self._running.get(key)
        if future is None:
            future = asyncio.ensure_future(self._run_when_free(target, version))
            self._running[key] = future
            future.add_done_callback(lambda _: self._running.pop(key, None))
        self.waiting += 1
        try:
            # shield: a caller that hangs up does not cancel the run the others wait for.
            return await asyncio.shield(future), False
        finally:
            self.waiting -= 1

    async def _run_when_free(self, target: str, version: str) -> CheckAnswer:
        lock = self._locks.setdefault(target, asyncio.Lock())
        async with lock:
            answer = await self._run(target, version)
        now = time.monotonic()
        # Forget expired answers, so that asking for many versions cannot grow memory.
        for key, (at, _) in list(self._answers.items()):
            if now - at >= self.cache:
                del self._answers[key]
        if self.cache > 0:
            self._answers[(target, version)] = (now, answer)
        return answer

    def _argv(self, verdict: Path) -> list[str]:
        argv = [sys.executable, "-m", "pytest", str(self.suite), "-p", "no:cacheprovider",
                f"--deploy-verdict={verdict}"]
        if self.targets_file is not None:
            argv.append(f"--deploy-targets-file={self.targets_file}")
        return argv

    async def _run(self, target: str, version: str) -> CheckAnswer:
        self.runs += 1
        number = self.runs
        started = datetime.now(timezone.utc)
        cwd = self.suite if self.suite.is_dir() else self.suite.parent
        with tempfile.TemporaryDirectory(prefix="deployable-serve-") as folder:
            verdict = Path(folder) / "deploy-verdict.json"
            # The bare --deploy-ledger comes last: it reads DEPLOYABLE_LEDGER (see Settings).
            argv = [*self._argv(verdict), f"--deploy-target={target}",
                    f"--deploy-version={version}", "--deploy-ledger"]
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv, cwd=cwd, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True)
            except OSError as exc:  # the suite's folder went away, no processes left, ...
                return CheckAnswer(target, version, Decision.INCONCLUSIVE.value, (
                    f"could not start pytest in {cwd}: {exc.strerror or exc}",), None, number,
                    started, datetime.now(timezone.utc), "")
            self._processes.add(process)
            output = bytearray()
            timed_out = False
            try:
                await asyncio.wait_for(self._collect(process, output), self.timeout)
            except asyncio.TimeoutError:
                timed_out = True
                await self._stop(process)
            finally:
                if process.returncode is None:  # cancelled: the service is stopping
                    _kill_group(process, signal.SIGKILL)
                self._processes.discard(process)
            text = self.redact(bytes(output[-OUTPUT_LIMIT:]).decode("utf-8", "replace"))
            finished = datetime.now(timezone.utc)

            def answer(verdict_word: str, reasons: list[str], digest: str | None = None
                       ) -> CheckAnswer:
                return CheckAnswer(target, version, verdict_word,
                                   tuple(self.redact(r) for r in reasons),
                                   None if timed_out else process.returncode, number, started,
                                   finished, text, digest)

            if timed_out:
                return answer(Decision.INCONCLUSIVE.value, [
                    f"the run took longer than --check-timeout "
                    f"{format_interval(self.timeout)} and was stopped"])
            return self._judge(answer, verdict, target, version, process.returncode)

    def _judge(self, answer: Callable[..., CheckAnswer], path: Path, target: str, version: str,
               code: int | None) -> CheckAnswer:
        result = gate_file(path, target=target, version=version)
        digest = None
        with contextlib.suppress(OSError, VerdictFileError):
            digest = f"sha256:{read_document(path.read_bytes()).statement_sha256}"
        if code == 0 and result.ok:
            return answer(result.verdict, [] if result.verdict == Decision.DEPLOYABLE.value
                          else [result.message], digest)
        word = result.verdict if result.verdict in (Decision.NOT_DEPLOYABLE.value,
                                                    Decision.INCONCLUSIVE.value) \
            else Decision.INCONCLUSIVE.value
        reasons = [result.message]
        if result.ok:
            reasons = [f"pytest exited {code} although the verdict file says "
                       f"{result.verdict}: it was not recorded in the ledger, or the run "
                       "failed after writing it (see output)"]
        return answer(word, reasons, digest)

    async def _collect(self, process: asyncio.subprocess.Process, output: bytearray) -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            output.extend(chunk)
            if len(output) > 2 * OUTPUT_LIMIT:
                del output[:-OUTPUT_LIMIT]
        await process.wait()

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """SIGINT to the run's process group, then SIGKILL after the grace period."""
        _kill_group(process, signal.SIGINT)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), GRACE)
        _kill_group(process, signal.SIGKILL)
        await process.wait()

    def stop_all(self) -> None:
        """Kill every run under way (the service is stopping)."""
        for process in list(self._processes):
            _kill_group(process, signal.SIGKILL)


def _kill_group(process: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
