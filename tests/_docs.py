"""The docs checker: what every page of docs/ and the README claims, checked against the code.

``check_markdown`` reads one Markdown text and returns its problems, one line each, naming the
file, the line and what is wrong; tests/test_docs.py runs it on every page, and feeds it bad
snippets to prove that it catches them. What counts as true comes from the code users run:
pytest's own ``--help`` (every option a pytest run accepts), the ``deployable`` argparse parser,
the targets-file loader and the policy loader.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from pytest_deployable import hooks
from pytest_deployable.cli import _parser
from pytest_deployable.policy import PolicyError, load_policy
from pytest_deployable.target_schema import TargetError
from pytest_deployable.targets import load_targets_file

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language, first line number (of the text) and text."""

    lang: str
    line: int
    text: str


_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


def blocks(text: str) -> Iterator[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.groups()
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line
                         for line in lines[start:j])
        yield Block(lang.lower(), start + 1, body)
        i = j + 1


@dataclass(frozen=True)
class Truth:
    """What the code accepts: pytest options, and each deployable subcommand's options."""

    pytest_options: frozenset[str]
    commands: dict[str, frozenset[str]]  # "gate", "ledger upgrade", ... -> option strings
    markers: frozenset[str] = frozenset()  # every registered marker (pytest --markers)
    hooks: frozenset[str] = frozenset()  # the plugin's hook names


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "",
                 ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    # argparse has no public way to list subparsers; _actions and choices are stable since 3.2.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                yield full, sub
                yield from _subcommands(sub, full + " ")


def truth() -> Truth:
    """Ask the real code: ``pytest --help`` for the options a run accepts (the plugin's and every
    other installed plugin's), and the ``deployable`` parser for its subcommands."""
    help_text = pytest_output("--help")
    options = frozenset(re.findall(r"^\s+(?:-\w[ ,\w]*, )?(--[\w-]+)", help_text, re.M))
    commands = {
        name: frozenset(s for a in sub._actions for s in a.option_strings)
        for name, sub in _subcommands(_parser())
    }
    markers = frozenset(re.findall(r"^@pytest\.mark\.(\w+)", pytest_output("--markers"), re.M))
    hook_names = frozenset(n for n in vars(hooks) if n.startswith("pytest_deployable_"))
    return Truth(options, commands, markers, hook_names)


def pytest_output(*args: str) -> str:
    """What ``pytest ARGS`` prints, run in an empty directory (no conftest, no tests)."""
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run(
            [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"],
            capture_output=True, text=True, check=True, cwd=empty,
        ).stdout


# `deployable SUBCOMMAND ...`, not pytest-deployable, python -m pytest_deployable or a path.
_COMMAND = re.compile(r"(?<![\w./\[-])deployable ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")
# `pytest ...` or `python -m pytest ...`, not pytest-deployable, pytest_deployable or a path.
_PYTEST = re.compile(r"(?<![\w./\[-])pytest(?= )")
# Where the options of one command end: a pipe, a list of commands, a redirect, a comment.
_END = re.compile(r"\s(?:\||;|&&|\|\||>|#)\s|`|$")
_LONG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
_INLINE = re.compile(r"`([^`\n]+)`")


def _code_segments(text: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every piece of code: each line of a fenced block (backslash
    continuations joined) and every inline code span outside fenced blocks."""
    fenced: set[int] = set()
    for block in blocks(text):
        lines = block.text.split("\n")
        fenced.update(range(block.line - 1, block.line + len(lines) + 1))
        # A command goes on after a trailing backslash (shell), and on a next line that starts
        # with an option (a YAML folded scalar in a CI file).
        merged: list[tuple[int, str]] = []
        continued = False
        for n, line in enumerate(lines):
            if merged and (continued or line.lstrip().startswith("--")):
                merged[-1] = (merged[-1][0], merged[-1][1] + " " + line.strip())
            else:
                merged.append((block.line + n, line))
            continued = line.rstrip().endswith("\\")
            if continued:
                merged[-1] = (merged[-1][0], merged[-1][1].rstrip()[:-1])
        yield from merged
    for n, line in enumerate(text.split("\n"), start=1):
        if n not in fenced:
            for m in _INLINE.finditer(line):
                yield n, m.group(1)


def check_options(text: str, where: str, known: Truth) -> list[str]:
    """Every ``--deploy-…`` option, and every ``deployable SUBCOMMAND --option``, must exist."""
    problems = []
    for n, line in enumerate(text.split("\n"), start=1):
        for option in re.findall(r"(?<![\w-])(--deploy-[a-z0-9-]*[a-z0-9])", line):
            if option not in known.pytest_options:
                problems.append(f"{where}:{n}: {option}: no such pytest option")
    for n, segment in _code_segments(text):
        for marker in re.findall(r"\bpytest\.mark\.(\w+)", segment):
            if known.markers and marker not in known.markers:
                problems.append(f"{where}:{n}: pytest.mark.{marker}: no such marker")
        for m in _PYTEST.finditer(segment):
            rest = segment[m.end():]
            end = _END.search(rest)
            for option in _LONG.findall(rest[: end.start()] if end else rest):
                if option not in known.pytest_options and not option.startswith("--deploy-"):
                    problems.append(f"{where}:{n}: pytest {option}: no such pytest option")
        for m in _COMMAND.finditer(segment):
            name = m.group(1)
            if m.group(2) and f"{name} {m.group(2)}" in known.commands:
                name = f"{name} {m.group(2)}"
            if name not in known.commands:
                if m.group(1) in {"is", "and", "or", "to", "the"}:
                    continue  # prose in a comment: "… is deployable and …"
                problems.append(f"{where}:{n}: deployable {m.group(1)}: no such command")
                continue
            rest = segment[m.end():]
            end = _END.search(rest)
            rest = rest[: end.start()] if end else rest
            for option in _LONG.findall(rest):
                if option not in known.commands[name] and option not in known.pytest_options:
                    problems.append(f"{where}:{n}: deployable {name} {option}: no such option")
    return problems


def check_toml(block: Block, where: str) -> list[str]:
    """A TOML block must parse; a targets file must pass the targets-file checker, a policy
    the policy loader."""
    here = f"{where}:{block.line}"
    try:
        data = tomllib.loads(block.text)
    except tomllib.TOMLDecodeError as exc:
        return [f"{here}: not valid TOML: {exc}"]
    with tempfile.TemporaryDirectory() as tmp:
        if "policy" in data:
            path = Path(tmp) / "deploy-policy.toml"
            path.write_text(block.text, encoding="utf-8")
            try:
                load_policy(path)
            except PolicyError as exc:
                return [f"{here}: {str(exc).replace(str(path), 'policy')}"]
        elif "targets" in data or "ledger" in data or "deployable" in data.get("tool", {}):
            name = "pyproject.toml" if "tool" in data else "deploy-targets.toml"
            path = Path(tmp) / name
            path.write_text(block.text, encoding="utf-8")
            try:
                load_targets_file(path)
            except TargetError as exc:
                return [f"{here}: {str(exc).replace(str(path), 'targets file')}"]
        else:
            return [f"{here}: a TOML block that is neither a targets file nor a policy"]
    return []


def check_python(block: Block, where: str, known: Truth) -> list[str]:
    """A Python block must compile; its ``pytest.mark.X`` must be registered markers and its
    ``def pytest_deployable_…`` hooks the plugin's."""
    try:
        tree = ast.parse(block.text)
    except SyntaxError as exc:
        return [f"{where}:{block.line + (exc.lineno or 1) - 1}: Python does not compile: {exc.msg}"]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = block.line + getattr(node, "lineno", 1) - 1
        at = f"{where}:{line}"
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "mark" and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "pytest" and node.attr not in known.markers):
            found.append((line, f"{at}: pytest.mark.{node.attr}: no such marker"))
        if (isinstance(node, ast.FunctionDef) and node.name.startswith("pytest_deployable_")
                and node.name not in known.hooks):
            found.append((line, f"{at}: {node.name}: no such hook"))
    return [problem for _, problem in sorted(found)]


def check_json(block: Block, where: str) -> list[str]:
    """A JSON block is a document, or members of one (``"key": value, …``); a ``…`` between
    members stands for members left out."""
    text = re.sub(r",\s*…(?=\s*[,}\]])", "", block.text)
    for candidate in (text, "{" + text + "}"):
        try:
            json.loads(candidate)
            return []
        except json.JSONDecodeError:
            continue
    return [f"{where}:{block.line}: not valid JSON"]


_SNIPPET = re.compile(r'^(\s*)--8<-- "([^"]+)"$', re.M)


def expand_snippets(text: str) -> str:
    """The page as MkDocs renders it: each ``--8<-- "PATH"`` line (pymdownx.snippets) replaced
    by the file it includes, indented as the line was, so the included example is checked too."""
    def include(m: re.Match[str]) -> str:
        body = (ROOT / m.group(2)).read_text(encoding="utf-8").rstrip("\n")
        return "\n".join(m.group(1) + line for line in body.split("\n"))

    return _SNIPPET.sub(include, text)


def check_markdown(text: str, where: str, known: Truth) -> list[str]:
    """Every problem of one page: its options and commands, and its TOML, Python, JSON blocks."""
    text = expand_snippets(text)
    problems = check_options(text, where, known)
    for block in blocks(text):
        if block.lang == "toml":
            problems += check_toml(block, where)
        elif block.lang == "python":
            problems += check_python(block, where, known)
        elif block.lang == "json":
            problems += check_json(block, where)
    return list(dict.fromkeys(problems))  # a marker in a Python block is seen twice


def pages() -> list[Path]:
    """The README and every page of docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
