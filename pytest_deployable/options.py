"""Command-line options and ini keys, in one group; values are checked when they are parsed."""

from __future__ import annotations

import argparse

import pytest

from .waiting import seconds

__all__ = ["add_options"]


def _target_option(value: str) -> str:
    # Imported when the option is given: every pytest run parses these options.
    from .targets import TargetError, check_target_option

    try:
        return check_target_option(value)
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration_option(value: str) -> float:
    try:
        return seconds(value, "duration")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count_option(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {value!r}")
    return int(value)


def _ledger_option(value: str) -> str:
    # A value without :// is far more often a test path after a bare --deploy-ledger.
    if value and "://" not in value:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a ledger URL (sqlite:///PATH, postgresql://...); for the "
            "default ledger write --deploy-ledger after the test paths, or --deploy-ledger="
            "sqlite:///deploy-ledger.db"
        )
    return value


def add_options(parser: pytest.Parser) -> None:
    """Add the plugin's options (group ``deployable``) and ini keys to ``parser``."""
    group = parser.getgroup("deployable", "deployment checks (pytest-deployable)")
    group.addoption(
        "--deploy-target", dest="deployable_target", metavar="NAME|URL", type=_target_option,
        help="run the deployment checks against this target: a name from the targets file, "
        "or an http(s) URL (protected unless loopback). Env: DEPLOYABLE_TARGET.",
    )
    group.addoption(
        "--deploy-targets-file", dest="deployable_targets_file", metavar="PATH",
        help="targets file (default: deploy-targets.toml in the rootdir, else "
        "[tool.deployable] in pyproject.toml).",
    )
    group.addoption(
        "--deploy-verdict", dest="deployable_verdict", metavar="PATH",
        help="where to write the verdict file (default: deploy-verdict.json).",
    )
    group.addoption(
        "--deploy-version", dest="deployable_version", metavar="VERSION",
        help="the version under test. Env: DEPLOYABLE_VERSION.",
    )
    group.addoption(
        "--deploy-commit", dest="deployable_commit", metavar="SHA",
        help="the commit under test (default: CI variables, then git rev-parse HEAD).",
    )
    group.addoption(
        "--deploy-subject", dest="deployable_subject", metavar="NAME|ARTIFACT",
        help="the artifact's name in the verdict (default: pyproject's project name), or the "
        "artifact to bind the verdict to: a file (its sha256), sha256:HEX or NAME@sha256:HEX.",
    )
    group.addoption(
        "--deploy-sign-key", dest="deployable_sign_key", metavar="PATH",
        help="sign the verdict file (a DSSE envelope) with this private key (PEM, mode 0600); "
        "write --deploy-sign-key=PATH. Env: DEPLOYABLE_SIGNING_KEY (the PEM text).",
    )
    group.addoption(
        "--deploy-strict", dest="deployable_strict", action="store_true",
        help="exit 1 for DEPLOYABLE_WITH_WARNINGS.",
    )
    group.addoption(
        "--allow-destructive", dest="deployable_allow_destructive", action="store_true",
        help="let checks marked destructive run, and change state, on a protected target.",
    )
    group.addoption(
        "--deploy-junit", dest="deployable_junit", metavar="PATH",
        help="also write the verdict as a JUnit XML gate report.",
    )
    group.addoption(
        "--deploy-summary", dest="deployable_summary", metavar="PATH",
        help="also write the verdict as Markdown (appended to $GITHUB_STEP_SUMMARY when set).",
    )
    group.addoption(
        "--deploy-version-within", dest="deployable_version_within", metavar="DURATION",
        type=_duration_option, default=300.0,
        help="how long the built-in version check waits for the target to report "
        "--deploy-version (default 5m).",
    )
    group.addoption(
        "--deploy-fail-fast", dest="deployable_fail_fast", action="store_true",
        help="stop at the first blocking failure; the rest count as not run.",
    )
    group.addoption(
        "--deploy-budget", dest="deployable_budget", metavar="DURATION",
        type=_duration_option,
        help="a time budget for the whole run (90s, 10m, 1h); when it runs out the run stops.",
    )
    group.addoption(
        "--deploy-soak", dest="deployable_soak", metavar="DURATION", type=_duration_option,
        help="after the first pass, repeat the post_deploy checks for this long.",
    )
    group.addoption(
        "--deploy-soak-every", dest="deployable_soak_every", metavar="DURATION",
        type=_duration_option, default=30.0,
        help="the interval between soak rounds (default 30s).",
    )
    group.addoption(
        "--deploy-soak-failure-limit", dest="deployable_soak_failure_limit", metavar="N",
        type=_count_option, default=0,
        help="how many soak rounds may fail before the verdict fails (default 0).",
    )
    group.addoption(
        "--deploy-schema-revision", dest="deployable_schema_revision", metavar="REVISION",
        help="the database schema revision this release expects (overrides the target's "
        "schema_revision); checked by the built-in deployable::schema check.",
    )
    group.addoption(
        "--deploy-ledger", dest="deployable_ledger", metavar="URL", nargs="?", const="",
        type=_ledger_option,
        help="record the verdict in the ledger after writing it (default ledger: "
        "DEPLOYABLE_LEDGER, else [ledger] url in the targets file, else deploy-ledger.db "
        "beside it); a recording failure exits as INCONCLUSIVE.",
    )
    group.addoption(
        "--deploy-crash-grace", dest="deployable_crash_grace", metavar="DURATION",
        type=_duration_option, default=60.0,
        help="with pytest-xdist, after a worker crashes, stop the run when no check "
        "finishes for this long (default 60s), so that a stalled scheduler cannot hang it.",
    )
    parser.addini("deploy_targets_file", "targets file, relative to the rootdir")
    parser.addini("deploy_verdict", "verdict file path (default deploy-verdict.json)")
    parser.addini("deploy_subject", "the artifact's name in the verdict")
