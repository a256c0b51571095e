"""The docs cannot lie: every example is checked against the code, and the reference is complete.

The README and every page of docs/ go through tests/_docs.py's checker (TOML targets files
through the targets-file loader, policies through the policy loader, Python compiled, JSON
parsed, every ``--deploy-…`` option and ``deployable SUBCOMMAND --option`` looked up in the real
parsers). The reverse holds too: every option, ini key, marker, fixture, hook, command and
command option the code has is named in its reference page. And the checker is shown to catch a
wrong option name, so a rename without the docs fails ``make test``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from _docs import ROOT, Truth, blocks, check_markdown, pages, pytest_output, tomllib, truth
from conftest import require

from pytest_deployable import hooks
from pytest_deployable.attestation import RunInfo, dump, to_statement, write_atomic
from pytest_deployable.cli import main
from pytest_deployable.markers import MARKERS
from pytest_deployable.policy import RULES
from pytest_deployable.provenance import CI_COMMIT_VARIABLES
from pytest_deployable.selection import Selection
from pytest_deployable.target_schema import CONTRACT_KEYS, KEYS, LEDGER_KEYS
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

REFERENCE = ROOT / "docs" / "reference"


@pytest.fixture(scope="module")
def known() -> Truth:
    return truth()


# --- every example is true -------------------------------------------------------------------


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_on_the_page_is_true(page: Path, known: Truth) -> None:
    problems = check_markdown(page.read_text(encoding="utf-8"), str(page.relative_to(ROOT)), known)
    assert problems == []


def test_the_docs_hold_the_examples_the_checker_reads() -> None:
    # If the block reader broke, every page would pass with nothing checked.
    langs = [b.lang for page in pages() for b in blocks(page.read_text(encoding="utf-8"))]
    assert langs.count("toml") >= 8
    assert langs.count("python") >= 8
    assert langs.count("json") >= 5


def test_a_wrong_pytest_option_fails_the_docs_check(known: Truth) -> None:
    page = (
        "Run it:\n\n```console\n$ pytest --deploy-targt=staging\n```\n\nor `--deploy-verdikt`,\n"
        "or `pytest -n 2 --hostz=local:// --deploy-target=staging`.\n"
    )
    assert check_markdown(page, "bad.md", known) == [
        "bad.md:4: --deploy-targt: no such pytest option",
        "bad.md:7: --deploy-verdikt: no such pytest option",
        "bad.md:8: pytest --hostz: no such pytest option",
    ]


def test_a_wrong_command_option_fails_the_docs_check(known: Truth) -> None:
    page = (
        "```console\n"
        "$ deployable gate v.json --target staging \\\n"
        "    --max-agee 30m | tee out\n"
        "$ deployable ledger upgrade --ledgr sqlite:///l.db\n"
        "$ deployable can-i-deploy --version 1 --to prod   # --anything in a comment is prose\n"
        "```\n\n"
        "Then `deployable shw v.json` and `deployable history --limt 5`.\n\n"
        "```yaml\n"
        "script: >-\n"
        "  deployable gate v.json --target staging\n"
        "  --polcy deploy-policy.toml\n"
        "```\n"
    )
    assert check_markdown(page, "bad.md", known) == [
        "bad.md:2: deployable gate --max-agee: no such option",
        "bad.md:4: deployable ledger upgrade --ledgr: no such option",
        "bad.md:12: deployable gate --polcy: no such option",
        "bad.md:8: deployable shw: no such command",
        "bad.md:8: deployable history --limt: no such option",
    ]


def test_a_wrong_target_key_fails_the_docs_check(known: Truth) -> None:
    page = '```toml\n[targets.production]\nbase_url = "https://shop.example"\nprotect = true\n```\n'
    (problem,) = check_markdown(page, "bad.md", known)
    assert problem.startswith("bad.md:2: targets file: targets.production: unknown key 'protect'")


def test_a_wrong_policy_rule_fails_the_docs_check(known: Truth) -> None:
    page = '```toml\n[policy.production]\nrequire_signatures = true\n```\n'
    (problem,) = check_markdown(page, "bad.md", known)
    assert problem.startswith(
        "bad.md:2: policy: policy.production.require_signatures: unknown rule"
    )


def test_a_wrong_marker_or_hook_fails_the_docs_check(known: Truth) -> None:
    page = (
        "```python\nimport pytest\n\n@pytest.mark.smoek\ndef test_health(http):\n    pass\n\n"
        "def pytest_deployable_verdit(config, verdict):\n    pass\n```\n"
    )
    problems = check_markdown(page + "\nOr `@pytest.mark.post_deplyo(blocking=False)`.\n", "bad.md",
                              known)
    assert sorted(set(problems)) == [
        "bad.md:12: pytest.mark.post_deplyo: no such marker",
        "bad.md:4: pytest.mark.smoek: no such marker",
        "bad.md:8: pytest_deployable_verdit: no such hook",
    ]


def test_broken_python_and_json_fail_the_docs_check(known: Truth) -> None:
    page = '```python\ndef f(:\n    pass\n```\n\n```json\n{"a": 1,, }\n```\n'
    assert check_markdown(page, "bad.md", known) == [
        "bad.md:2: Python does not compile: invalid syntax",
        "bad.md:7: not valid JSON",
    ]


def test_no_escaped_pipe_in_code_in_a_docs_table() -> None:
    # GitHub needs `a\|b` in a table cell; Python-Markdown shows the backslash inside code, so
    # the docs write alternatives as {a,b} (argparse's notation) or spell them out.
    found = [
        f"{page.relative_to(ROOT)}:{n}"
        for page in sorted((ROOT / "docs").rglob("*.md"))
        for n, line in enumerate(page.read_text(encoding="utf-8").split("\n"), start=1)
        if line.startswith("|") and re.search(r"`[^`]*\\\|[^`]*`", line)
    ]
    assert found == []


# --- the docs build fails on a broken link ---------------------------------------------------


def _docs_build(where: Path) -> subprocess.CompletedProcess[str]:
    """``make docs``'s own command (read from the Makefile), run on the copy in ``where``."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs:.*\n(?:#.*\n)*\t(.+)$", makefile, re.M)
    assert recipe, "the Makefile has no docs target"
    words = recipe.group(1).split()
    arguments = words[words.index(next(w for w in words if w.endswith("/mkdocs"))) + 1:]
    return subprocess.run([sys.executable, "-m", "mkdocs", *arguments], cwd=where,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def test_the_docs_build_fails_on_a_link_to_a_missing_heading(tmp_path: Path) -> None:
    require("mkdocs")
    require("material")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the snippets the how-tos include
    built = _docs_build(tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "reference" / "commands" / "index.html").is_file()

    page = tmp_path / "docs" / "tutorials" / "ci-gate.md"
    page.write_text(page.read_text(encoding="utf-8")
                    + "\nSee [the rules](../explanation/verdict.md#the-rulez).\n", encoding="utf-8")
    broken = _docs_build(tmp_path)

    assert broken.returncode != 0
    assert "does not contain an anchor '#the-rulez'" in broken.stderr


# --- console transcripts of the gate are what the gate prints --------------------------------


def _gate_transcripts() -> list[tuple[str, list[str], str]]:
    """(where, arguments, printed line) of every ``$ deployable gate …`` in a console block
    that is followed by its output and needs no key (a synopsis with ``[…]`` is not a run)."""
    found = []
    for page in pages():
        for block in blocks(page.read_text(encoding="utf-8")):
            if block.lang != "console":
                continue
            lines = block.text.replace("\\\n", " ").split("\n")
            for n, line in enumerate(lines[:-1]):
                if (line.startswith("$ deployable gate ") and "[" not in line
                        and "--key" not in line and lines[n + 1].startswith("deployable gate:")):
                    command = line[2:].split("#")[0].split()
                    found.append((f"{page.relative_to(ROOT)}:{block.line + n}", command[2:],
                                  lines[n + 1]))
    return found


@pytest.mark.parametrize(("where", "arguments", "printed"), _gate_transcripts(),
                         ids=[w for w, _, _ in _gate_transcripts()])
def test_a_gate_transcript_is_what_the_gate_prints(
    where: str, arguments: list[str], printed: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # A real DEPLOYABLE verdict for the transcript's target and version, finished as long ago
    # as the transcript says, written where its command reads it.
    target = arguments[arguments.index("--target") + 1]
    version = arguments[arguments.index("--version") + 1]
    said = re.search(r"verdict (\d+)s old", printed)
    assert said, f"{where}: the transcript does not say how old the verdict is"
    age = int(said.group(1))
    finished = datetime.now(timezone.utc) - timedelta(seconds=age)
    info = RunInfo("shop", Target(target, f"https://{target}.shop.example"),
                   finished - timedelta(seconds=3), finished, version, "0" * 40)
    check = CheckResult(id="tests/deploy/test_smoke.py::test_health", category="smoke",
                        blocking=True, outcome=Outcome.PASSED, attempts=1, reruns=0,
                        duration_ms=20)
    monkeypatch.chdir(tmp_path)
    write_atomic(Path(arguments[0]),
                 dump(to_statement(decide([check], RunFacts(selection=Selection())), info)))

    code = main(["gate", *arguments])

    out = capsys.readouterr().out.strip()
    assert code == 0, where
    # The age is measured now; a loaded machine may add a second or two.
    assert re.sub(r"\d+s old", "Ns old", out) == re.sub(r"\d+s old", "Ns old", printed), where


def test_the_gate_transcripts_are_found() -> None:
    assert len(_gate_transcripts()) >= 1


# --- the reference is complete ---------------------------------------------------------------


def _section(text: str, start: str) -> str:
    """The text of ``text`` from the heading ``start`` to the next heading of its level."""
    level = start.split(" ", 1)[0]
    begin = text.index(start + "\n")
    rest = text[begin + len(start):]
    end = re.search(rf"^{level} ", rest, re.M)
    return rest[: end.start()] if end else rest


def test_every_pytest_option_and_ini_key_is_in_the_reference() -> None:
    help_text = pytest_output("--help")
    group = help_text[help_text.index("deployment checks (pytest-deployable):"):]
    group = group[: group.index("\n\n")]
    options = re.findall(r"^  (--[\w-]+)", group, re.M)
    ini_keys = re.findall(r"^  (deploy_\w+) \(", help_text, re.M)
    assert len(options) >= 20
    assert len(ini_keys) >= 3
    page = (REFERENCE / "options.md").read_text(encoding="utf-8")
    assert [o for o in options if f"`{o}" not in page] == []
    assert [k for k in ini_keys if f"`{k}`" not in page] == []


def test_every_environment_variable_is_in_the_reference() -> None:
    package = ROOT / "pytest_deployable"
    source = "\n".join(p.read_text(encoding="utf-8") for p in package.rglob("*.py"))
    names = set(re.findall(r'"(DEPLOYABLE_[A-Z_]+)"', source)) - {"DEPLOYABLE_WITH_WARNINGS"}
    assert len(names) >= 4
    names |= set(CI_COMMIT_VARIABLES)
    page = (REFERENCE / "options.md").read_text(encoding="utf-8")
    assert sorted(n for n in names if f"`{n}`" not in page) == []


def test_every_target_key_and_policy_rule_is_in_the_reference() -> None:
    targets = (REFERENCE / "targets-file.md").read_text(encoding="utf-8")
    keys = [*KEYS, *LEDGER_KEYS, *CONTRACT_KEYS]
    assert [k for k in keys if f"`{k}`" not in targets] == []
    policy = (REFERENCE / "policy-file.md").read_text(encoding="utf-8")
    assert [r for r in RULES if f"| `{r}" not in policy] == []


def test_every_extra_is_on_the_install_page() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"]["optional-dependencies"]
    page = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    # metrics-example serves the example shop's /metrics; no user installs it.
    documented = [e for e in extras if f"[{e}]" in page or f"`{e}`" in page]
    assert sorted(set(extras) - set(documented) - {"metrics-example"}) == []


def test_every_marker_is_in_the_reference() -> None:
    page = (REFERENCE / "markers.md").read_text(encoding="utf-8")
    assert [m for m in MARKERS if f"`{m}" not in page] == []


def test_every_fixture_is_in_the_reference() -> None:
    listing = pytest_output("--fixtures", "-v")
    ours = re.findall(r"^(\w+)(?: \[\w+ scope\])? -- \S*pytest_deployable/", listing, re.M)
    public = [f for f in ours if not f.startswith("_")]
    assert len(public) >= 6
    page = (REFERENCE / "fixtures.md").read_text(encoding="utf-8")
    assert [f for f in [*public, "host"] if f"`{f}`" not in page] == []


def test_every_hook_is_in_the_reference() -> None:
    specs = [name for name in vars(hooks) if name.startswith("pytest_deployable_")]
    assert len(specs) >= 3
    page = (REFERENCE / "hooks.md").read_text(encoding="utf-8")
    assert [h for h in specs if f"def {h}(" not in page] == []


def test_every_command_and_its_options_are_in_the_reference(known: Truth) -> None:
    page = (REFERENCE / "commands.md").read_text(encoding="utf-8")
    missing = []
    for name, options in known.commands.items():
        if name == "ledger":  # a group: its one action, `ledger upgrade`, has the section
            continue
        section = _section(page, f"## `deployable {name}`")
        missing += [f"{name} {o}" for o in options if o not in ("-h", "--help")
                    and not re.search(rf"`{re.escape(o)}\b", section)
                    and not re.search(rf"`-\w {re.escape(o)}\b", section)]
    assert missing == []


# --- the README is a front door whose links resolve -------------------------------------------


def _anchors(markdown: str) -> set[str]:
    # The slugs of GitHub and of Python-Markdown's toc agree for the headings we write.
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\s-]", "", heading).strip().lower()
        found.add(re.sub(r"[-\s]+", "-", slug))
    return found


def test_the_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", readme, flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link for link in links if not re.match(r"https?://", link)]
    assert len(local) >= 20
    broken = []
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path if path else ROOT / "README.md"
        exists = target.exists()
        if not exists or (anchor and anchor not in _anchors(target.read_text(encoding="utf-8"))):
            broken.append(link)
    assert broken == []


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    quick_start = _section(readme, "## Quick start")
    assert "$ make demo" in quick_start
    assert "$ make test" in quick_start
