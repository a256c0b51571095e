"""The vocabulary of a verdict: outcome and verdict names, and the verdict file's keys.

One module that the recorder, the verdict rules, the verdict file's writer, the
gate, and the JUnit and Markdown renderers import, so that a name is spelled in
one place and a reader of the file and its writer cannot drift apart.
"""

from __future__ import annotations

import enum

__all__ = [
    "BROKEN",
    "CATEGORIES",
    "DID_NOT_RUN_HERE",
    "SELECTION_KEYS",
    "SUMMARY_KEYS",
    "Decision",
    "Outcome",
]


#: Check categories in the order they run; ``unknown`` is used for a check
#: whose classification never reached the controller (a crashed worker).
CATEGORIES = ("smoke", "contract", "post_deploy")


class Decision(str, enum.Enum):
    """One of the four verdicts a run can end in."""

    DEPLOYABLE = "DEPLOYABLE"
    DEPLOYABLE_WITH_WARNINGS = "DEPLOYABLE_WITH_WARNINGS"
    INCONCLUSIVE = "INCONCLUSIVE"
    NOT_DEPLOYABLE = "NOT_DEPLOYABLE"

    @property
    def severity(self) -> int:
        """How bad the verdict is; a hook may move a verdict only up this scale."""
        return _SEVERITY[self]

    @property
    def result(self) -> str:
        """The in-toto test-result ``result`` this verdict maps to."""
        if self is Decision.DEPLOYABLE:
            return "PASSED"
        if self is Decision.DEPLOYABLE_WITH_WARNINGS:
            return "WARNED"
        return "FAILED"


# A blocking failure is evidence that the version is broken, which is worth more
# to a pipeline than "we could not tell", so NOT_DEPLOYABLE ranks above INCONCLUSIVE.
_SEVERITY = {
    Decision.DEPLOYABLE: 0,
    Decision.DEPLOYABLE_WITH_WARNINGS: 1,
    Decision.INCONCLUSIVE: 2,
    Decision.NOT_DEPLOYABLE: 3,
}


class Outcome(str, enum.Enum):
    """How one check ended."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    REFUSED = "refused"
    NOT_APPLICABLE = "notApplicable"
    NOT_RUN = "notRun"


#: Outcomes that are evidence of a broken check; no later phase can change them.
BROKEN = frozenset({Outcome.FAILED, Outcome.ERROR})

#: The outcomes a check is given at collection when it must not run on this target.
DID_NOT_RUN_HERE = frozenset({Outcome.REFUSED, Outcome.NOT_APPLICABLE})

#: The verdict file's ``summary`` key (and a host entry's) for each outcome, in file order.
SUMMARY_KEYS: dict[Outcome, str] = {
    Outcome.PASSED: "passed",
    Outcome.FAILED: "failed",
    Outcome.ERROR: "errors",
    Outcome.SKIPPED: "skipped",
    Outcome.REFUSED: "refused",
    Outcome.NOT_APPLICABLE: "notApplicable",
    Outcome.NOT_RUN: "notRun",
}

#: The keys of ``deployability.selection``, in file order (SPEC §10).
SELECTION_KEYS = (
    "complete", "deselected", "skippedAtCollection", "keyword", "markers", "lastFailed", "args",
)
