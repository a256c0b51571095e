"""Benchmark: what signing adds to writing a verdict, and to gating one.

For a verdict of N checks (10, 1,000): time to serialize the statement
(``dump``), to seal it in a DSSE envelope (Ed25519, ECDSA P-256), and for the
gate to read and verify the signed file (``run_gate`` with the key) against the
bare one. Medians of many repetitions in one process, so the figures are the
library's work, not pytest's start-up. Usage: ``python bench/signing.py``.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pytest_deployable.attestation import RunInfo, dump, to_statement, write_atomic
from pytest_deployable.envelope import dump_envelope, seal
from pytest_deployable.keys import keygen
from pytest_deployable.policy_gate import run_gate
from pytest_deployable.selection import Selection
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

REPEAT = 25


def median_ms(work: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def statement(checks: int) -> dict[str, object]:
    results = [CheckResult(f"tests/deploy/test_smoke.py::test_{n}", "smoke", True,
                           Outcome.PASSED, 1, 5) for n in range(checks)]
    finished = datetime.now(timezone.utc) - timedelta(seconds=5)
    info = RunInfo("shop", Target("staging", "https://staging.example"),
                   finished - timedelta(seconds=5), finished, "1.0", "0" * 40)
    # A whole-suite run: without a selection record the gate (rightly) calls it partial.
    return to_statement(decide(results, RunFacts(selection=Selection())), info)


def measure(work: Path, algorithm: str, checks: int, now: datetime) -> list[float]:
    """Medians in ms: dump, seal, gate on the bare file, gate on the signed file with the key."""
    key = keygen(work / f"{algorithm}-{checks}", algorithm)
    pub = work / f"{algorithm}-{checks}.pub"
    data = statement(checks)
    text = dump(data)
    bare, signed = work / "bare.json", work / "signed.json"
    write_atomic(bare, text)
    write_atomic(signed, dump_envelope(seal(data, key, text)))
    assert run_gate(signed, keys=[pub], now=now, cwd=work).result.ok
    return [
        median_ms(lambda: dump(data)),
        median_ms(lambda: seal(data, key, text)),
        median_ms(lambda: run_gate(bare, now=now, cwd=work)),
        median_ms(lambda: run_gate(signed, keys=[pub], now=now, cwd=work)),
    ]


def main() -> int:
    print(f"bench/signing.py on {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}; medians of {REPEAT} (no target: issue #12 asks for the "
          "figures)")
    print(f"{'checks':>7} {'key':>11} {'dump':>8} {'seal':>8} {'gate bare':>10} "
          f"{'gate signed':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        now = datetime.now(timezone.utc)
        for algorithm in ("ed25519", "ecdsa-p256"):
            for checks in (10, 1000):
                timings = measure(Path(tmp), algorithm, checks, now)
                widths = (7, 7, 9, 11)
                print(f"{checks:>7} {algorithm:>11} " + " ".join(
                    f"{ms:>{width}.2f}" for ms, width in zip(timings, widths, strict=True))
                    + "  ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
