"""The CI examples are pipelines each system would accept, wired the way the README says."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _service import EXAMPLES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

CI = EXAMPLES / "ci"

#: Top-level GitLab keys that configure the pipeline rather than name a job.
GITLAB_GLOBAL_KEYS = frozenset(
    {"stages", "variables", "workflow", "default", "include", "image", "services",
     "before_script", "after_script", "cache"}
)


def load(name: str) -> dict[Any, Any]:
    """A CI file parsed the way the CI system's YAML loader reads it."""
    data = yaml.safe_load((CI / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def github() -> dict[Any, Any]:
    return load("github-actions.yml")


@pytest.fixture(scope="module")
def gitlab() -> dict[Any, Any]:
    return load("gitlab-ci.yml")


def gitlab_jobs(config: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    """The jobs of a GitLab pipeline: every top-level key that is not a setting or template."""
    return {
        name: job for name, job in config.items()
        if name not in GITLAB_GLOBAL_KEYS and not str(name).startswith(".")
    }


def needed(job: dict[str, Any]) -> list[str]:
    """The names a job's ``needs`` refers to, in either system's spelling."""
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    return [need["job"] if isinstance(need, dict) else need for need in needs]


def all_commands(jobs: dict[str, dict[str, Any]], key: str) -> str:
    """Every shell command of every job, as one text."""
    if key == "steps":
        return "\n".join(step.get("run", "") for job in jobs.values() for step in job["steps"])
    return "\n".join(line for job in jobs.values() for line in job["script"])


# -- GitHub Actions -----------------------------------------------------------------------------


def test_github_has_triggers_and_jobs(github: dict[Any, Any]) -> None:
    # YAML 1.1 reads the bare key `on` as the boolean true; GitHub reads it as "on".
    assert True in github or "on" in github
    assert github["jobs"]


def test_github_jobs_have_a_runner_and_steps(github: dict[Any, Any]) -> None:
    for name, job in github["jobs"].items():
        assert isinstance(job.get("runs-on"), str), name
        assert isinstance(job.get("steps"), list), name
        assert job["steps"], name
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"{name}: {step}"


def test_github_needs_refer_to_jobs_that_exist(github: dict[Any, Any]) -> None:
    jobs = github["jobs"]
    for name, job in jobs.items():
        for need in needed(job):
            assert need in jobs, f"{name} needs unknown job {need}"
            assert need != name


def test_github_gates_then_promotes_then_verifies(github: dict[Any, Any]) -> None:
    jobs = github["jobs"]
    commands = all_commands(jobs, "steps")
    assert "--deploy-target=staging" in commands
    assert "--deploy-target=production" in commands
    assert "--deploy-junit" in commands
    assert "--deploy-summary" in commands
    assert "deployable gate deploy-verdict.json --target staging" in commands
    assert "--max-age 30m" in commands
    assert "gate-staging" in needed(jobs["promote-production"])
    assert "promote-production" in needed(jobs["verify-production"])


def test_github_keeps_the_verdict_even_when_checks_fail(github: dict[Any, Any]) -> None:
    uploads = [
        step for job in github["jobs"].values() for step in job["steps"]
        if str(step.get("uses", "")).startswith("actions/upload-artifact")
    ]
    assert uploads
    for step in uploads:
        assert step.get("if") == "always()"
        assert "verdict.json" in step["with"]["path"]


def test_github_rolls_back_only_after_production_was_touched(github: dict[Any, Any]) -> None:
    rollback = github["jobs"]["rollback-production"]
    assert "verify-production" in needed(rollback)
    condition = " ".join(rollback["if"].split())
    assert condition.startswith("always() &&")
    assert "needs.promote-production.outputs.touched == 'true'" in condition
    assert "./scripts/rollback.sh" in all_commands({"r": rollback}, "steps")


# -- GitLab CI/CD -------------------------------------------------------------------------------


def test_gitlab_stages_are_a_list_and_every_job_uses_one(gitlab: dict[Any, Any]) -> None:
    stages = gitlab["stages"]
    assert isinstance(stages, list)
    assert all(isinstance(stage, str) for stage in stages)
    jobs = gitlab_jobs(gitlab)
    assert jobs
    for name, job in jobs.items():
        assert job.get("stage") in stages, name


def test_gitlab_jobs_have_a_script_list(gitlab: dict[Any, Any]) -> None:
    for name, job in gitlab_jobs(gitlab).items():
        script = job.get("script")
        assert isinstance(script, list), name
        assert script, name
        assert all(isinstance(line, str) for line in script), name


def test_gitlab_needs_refer_to_earlier_jobs(gitlab: dict[Any, Any]) -> None:
    jobs = gitlab_jobs(gitlab)
    stages = gitlab["stages"]
    for name, job in jobs.items():
        for need in [*needed(job), *job.get("dependencies", [])]:
            assert need in jobs, f"{name} needs unknown job {need}"
            # A job may only need jobs of earlier (or, since GitLab 14.2, the same) stages.
            assert stages.index(jobs[need]["stage"]) <= stages.index(job["stage"]), name


def test_gitlab_keeps_the_verdict_and_the_junit_report(gitlab: dict[Any, Any]) -> None:
    jobs = gitlab_jobs(gitlab)
    for name in ("gate-staging", "verify-production"):
        artifacts = jobs[name]["artifacts"]
        assert artifacts["when"] == "always", name
        assert any(path.endswith("verdict.json") for path in artifacts["paths"]), name
        assert artifacts["reports"]["junit"].endswith(".xml"), name


def test_gitlab_gates_then_promotes_then_verifies(gitlab: dict[Any, Any]) -> None:
    jobs = gitlab_jobs(gitlab)
    commands = all_commands(jobs, "script")
    assert "--deploy-target=staging" in commands
    assert "--deploy-target=production" in commands
    assert "deployable gate deploy-verdict.json --target staging" in commands
    assert "--max-age 30m" in commands
    assert jobs["approve-production"]["when"] == "manual"
    assert jobs["approve-production"]["allow_failure"] is False


def test_gitlab_rolls_back_on_failure_of_production_jobs_only(gitlab: dict[Any, Any]) -> None:
    rollback = gitlab_jobs(gitlab)["rollback-production"]
    assert rollback["when"] == "on_failure"
    # With needs, on_failure looks only at these jobs, so a refused gate before
    # production was touched does not roll production back.
    assert set(needed(rollback)) == {"deploy-production", "verify-production"}
    assert any("./scripts/rollback.sh" in line for line in rollback["script"])


# -- both ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_examples_name_the_teams_own_scripts_and_no_local_paths(name: str) -> None:
    text = (CI / name).read_text(encoding="utf-8")
    assert "./scripts/deploy.sh" in text
    assert "your own" in text or "your team's own" in text
    assert str(Path(__file__).resolve().parent.parent) not in text


def test_ci_examples_target_names_exist_in_the_example_targets_file() -> None:
    targets = tomllib.loads((EXAMPLES / "deploy" / "deploy-targets.toml").read_text())["targets"]
    assert {"staging", "production"} <= set(targets)
    assert targets["production"]["protected"] is True
    assert targets["local-prod"]["protected"] is True


# -- signed verdicts ----------------------------------------------------------------------------


def test_github_signs_with_a_secret_and_gates_with_the_public_key(
    github: dict[Any, Any],
) -> None:
    jobs = github["jobs"]
    for name in ("gate-staging", "verify-production"):
        assert jobs[name]["env"]["DEPLOYABLE_SIGNING_KEY"] == (
            "${{ secrets.DEPLOYABLE_SIGNING_KEY }}"), name
        assert "pytest-deployable[sign]" in all_commands({name: jobs[name]}, "steps")
    commands = all_commands(jobs, "steps")
    gates = commands.split("deployable gate")[1:]
    assert len(gates) == 3
    for gate in gates:
        assert "--key keys/ci.pub" in gate
        assert "--policy deploy-policy.toml" in gate
        assert '--subject "$IMAGE"' in gate
    assert '--deploy-subject="$IMAGE"' in commands
    assert "--emit-vsa production-vsa.json" in commands
    # The private key is never written to a file or passed on the command line.
    assert "--deploy-sign-key" not in commands


def test_gitlab_signs_with_a_file_variable_and_gates_with_the_public_key(
    gitlab: dict[Any, Any],
) -> None:
    jobs = gitlab_jobs(gitlab)
    commands = all_commands(jobs, "script")
    assert commands.count('--deploy-sign-key="$DEPLOYABLE_SIGNING_KEY_FILE"') == 2
    assert commands.count('chmod 600 "$DEPLOYABLE_SIGNING_KEY_FILE"') == 2
    gates = commands.split("deployable gate")[1:]
    assert len(gates) == 3
    assert all("--key keys/ci.pub" in gate and "--policy deploy-policy.toml" in gate
               for gate in gates)
    # $IMAGE comes from the build job's dotenv report: every job that uses it needs build.
    for name, job in jobs.items():
        if "$IMAGE" in "\n".join(job["script"]):
            assert "build" in needed(job), name


def test_the_example_policy_loads_and_names_the_example_targets(tmp_path: Path) -> None:
    from pytest_deployable.policy import load_policy

    policy = load_policy(CI / "deploy-policy.toml")
    production = policy.for_target("production")
    assert production is not None
    assert production.require_signature  # from "*"
    assert production.trusted_keys == (CI / "keys" / "ci.pub",)
    assert production.allow_partial is False
    assert production.allow_warnings is False
    targets = tomllib.loads((EXAMPLES / "deploy" / "deploy-targets.toml").read_text())["targets"]
    assert set(policy.tables) - {"*"} <= set(targets)
