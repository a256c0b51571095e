"""Every output of a run goes through redaction: the terminal, reports, the log file."""

from __future__ import annotations

import logging
import sys

import pytest

from .redact import RedactingStream, Redactor

__all__ = ["protect_log_file", "protect_terminal", "redact_report"]


def redact_report(report: pytest.TestReport, redact: Redactor) -> None:
    """Mask secrets in everything a report carries to the terminal and pytest's --junitxml."""
    if not redact:
        return
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: keep its shape
        report.longrepr = (longrepr[0], longrepr[1], redact(str(longrepr[2])))
    elif longrepr is not None and redact.contains_secret(report.longreprtext):
        report.longrepr = redact(report.longreprtext)
    report.sections = [(title, redact(text)) for title, text in report.sections]
    if isinstance(getattr(report, "wasxfail", None), str):
        report.wasxfail = redact(report.wasxfail)
    report.user_properties = [
        (name, redact(value) if isinstance(value, str) else redact.value(value))
        for name, value in report.user_properties
    ]


class _RedactingFormatter(logging.Formatter):
    """Wraps a log handler's formatter so that what it writes is redacted."""

    def __init__(self, inner: logging.Formatter, redactor: Redactor) -> None:
        super().__init__()
        self._inner = inner
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor(self._inner.format(record))


def protect_log_file(config: pytest.Config, redactor: Redactor) -> None:
    """Redact what pytest's ``--log-file`` handler writes."""
    logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
    handler = getattr(logging_plugin, "log_file_handler", None)
    if redactor and isinstance(handler, logging.Handler):
        handler.setFormatter(_RedactingFormatter(handler.formatter or logging.Formatter(),
                                                 redactor))


def protect_terminal(config: pytest.Config, redactor: Redactor) -> None:
    """Route everything pytest prints (and, under ``-s``, what checks print) through redaction."""
    if not redactor:
        return
    writer = config.get_terminal_writer()
    if hasattr(writer, "_file"):
        writer._file = RedactingStream(writer._file, redactor)
    if config.getoption("capture", "fd") == "no":
        saved = sys.stdout, sys.stderr
        sys.stdout = RedactingStream(sys.stdout, redactor)
        sys.stderr = RedactingStream(sys.stderr, redactor)

        def restore() -> None:
            sys.stdout, sys.stderr = saved

        config.add_cleanup(restore)
