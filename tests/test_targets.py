"""Loading targets: files, interpolation, secrets and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_deployable.targets import (
    TargetError,
    adhoc_target,
    check_target_option,
    find_targets_file,
    load_targets_file,
    resolve_target,
)

STAGING = """
[targets.staging]
base_url = "https://staging.shop.example"
hosts = ["ssh://deploy@web1.staging", "ssh://deploy@web2.staging"]
headers = { Authorization = "Bearer ${STAGING_TOKEN}" }
variables = { region = "eu-west-1", tenant = "smoke-test", shards = 3 }
timeout = 4.5

[targets.production]
base_url = "https://shop.example"
protected = true

[targets.prod-eu]
base_url = "https://eu.shop.example"

[targets.preview]
base_url = "https://preview.shop.example"
headers = { X-Token = "${PREVIEW_TOKEN}" }
"""


def write(tmp_path: Path, text: str, name: str = "deploy-targets.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_named_target_resolves_with_its_secret(tmp_path: Path) -> None:
    targets = load_targets_file(write(tmp_path, STAGING))
    target = resolve_target(targets, "staging", environ={"STAGING_TOKEN": "s3cr3t-token"},
                            version="1.4.2")
    assert target.base_url == "https://staging.shop.example"
    assert target.headers == {"Authorization": "Bearer s3cr3t-token"}
    assert target.hosts == ("ssh://deploy@web1.staging", "ssh://deploy@web2.staging")
    assert target.variables["shards"] == 3
    assert target.timeout == 4.5
    assert target.version == "1.4.2"
    assert target.protected is False
    assert target.secrets == frozenset({"s3cr3t-token"})
    assert len(target.source_sha256 or "") == 64


def test_only_the_selected_target_needs_its_variables(tmp_path: Path) -> None:
    targets = load_targets_file(write(tmp_path, STAGING))
    # PREVIEW_TOKEN is not set: a staging run must not care.
    assert resolve_target(targets, "production", environ={}).protected is True


def test_a_missing_variable_names_it_and_the_file(tmp_path: Path) -> None:
    targets = load_targets_file(write(tmp_path, STAGING))
    with pytest.raises(TargetError) as excinfo:
        resolve_target(targets, "staging", environ={})
    message = str(excinfo.value)
    assert "STAGING_TOKEN" in message
    assert "deploy-targets.toml" in message
    assert "targets.staging.headers.Authorization" in message


def test_dollar_dollar_is_a_literal_dollar(tmp_path: Path) -> None:
    path = write(tmp_path, '[targets.a]\nbase_url = "http://x"\nvariables = { p = "$${HOME}" }\n')
    target = resolve_target(load_targets_file(path), "a", environ={})
    assert target.variables["p"] == "${HOME}"
    assert target.secrets == frozenset()


def test_production_like_names_are_protected_unless_said_otherwise(tmp_path: Path) -> None:
    targets = load_targets_file(write(tmp_path, STAGING))
    assert resolve_target(targets, "prod-eu", environ={}).protected is True
    path = write(tmp_path, '[targets.production]\nbase_url = "http://x"\nprotected = false\n')
    assert resolve_target(load_targets_file(path), "production", environ={}).protected is False


def test_an_unknown_target_lists_the_known_ones(tmp_path: Path) -> None:
    targets = load_targets_file(write(tmp_path, STAGING))
    with pytest.raises(TargetError, match="known targets: preview, prod-eu, production, staging"):
        resolve_target(targets, "qa", environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[targets.a]\nbase_url = "http://x"\nprotect = true\n', "unknown key 'protect'"),
        ('[targets.a]\nbase_url = 3\n', "targets.a.base_url must be a string"),
        ('[targets.a]\nbase_url = "http://x"\ntimeout = -1\n', "timeout must be a positive"),
        ('[targets.a]\nbase_url = "http://x"\nprotected = "yes"\n', "protected must be true"),
        ('[targets.a]\nhosts = "local://"\n', "hosts must be a list of strings"),
        ('[targets.a]\nvariables = { x = [1] }\n', "variables must be a table"),
        ("[targets.a]\nprotected = true\n", "needs base_url, hosts, or both"),
        ("[targets.a]\nhosts = []\n", "needs base_url, hosts, or both"),
        ('targets = 3\n', "targets must be a table"),
        ('[target.a]\nbase_url = "http://x"\n', "unknown key 'target'"),
        ('[targets.a]\nbase_url = "http://x"\nheaders = { A = "b"\n', "invalid TOML"),
    ],
)
def test_a_malformed_file_is_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(TargetError) as excinfo:
        load_targets_file(write(tmp_path, text))
    assert expected in str(excinfo.value)
    assert str(tmp_path / "deploy-targets.toml") in str(excinfo.value)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    text = '[targets.a]\nbase_url = "http://x"\ntimeout = = 3\n'
    with pytest.raises(TargetError, match=r"line 3"):
        load_targets_file(write(tmp_path, text))


def test_a_bad_base_url_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[targets.a]\nbase_url = "ftp://x"\n')
    with pytest.raises(TargetError, match="is not an http"):
        resolve_target(load_targets_file(path), "a", environ={})


def test_pyproject_tool_table_is_found_and_read(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n\n[tool.deployable.targets.qa]\n'
          'base_url = "http://127.0.0.1:1"\n', "pyproject.toml")
    path = find_targets_file(tmp_path)
    assert path == tmp_path / "pyproject.toml"
    assert resolve_target(load_targets_file(path), "qa", environ={}).base_url == (
        "http://127.0.0.1:1"
    )


def test_deploy_targets_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, '[tool.deployable.targets.qa]\nbase_url = "http://a"\n', "pyproject.toml")
    write(tmp_path, STAGING)
    assert find_targets_file(tmp_path) == tmp_path / "deploy-targets.toml"


def test_no_targets_file(tmp_path: Path) -> None:
    assert find_targets_file(tmp_path) is None


@pytest.mark.parametrize(
    ("url", "protected"),
    [
        ("http://127.0.0.1:8000", False),
        ("http://127.8.9.1:8000/api", False),
        ("http://localhost:9", False),
        ("http://[::1]:8000", False),
        ("https://shop.example", True),
        ("http://10.0.0.5", True),
    ],
)
def test_adhoc_targets_are_protected_unless_loopback(url: str, protected: bool) -> None:
    assert adhoc_target(url).protected is protected


def test_adhoc_url_credentials_are_secrets() -> None:
    target = adhoc_target("https://bot:p%40ss@shop.example")
    assert target.secrets == frozenset({"p@ss"})
    assert "p%40ss" not in target.name


@pytest.mark.parametrize("value", ["ftp://x", "http://", "http://h:99999", "bad name", ""])
def test_bad_target_option_values(value: str) -> None:
    with pytest.raises(TargetError):
        check_target_option(value)


def test_public_env_values_are_not_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, '[targets.a]\nbase_url = "http://127.0.0.1:${PORT}"\n'
                           'headers = { K = "${KEY}" }\npublic_env = ["PORT"]\n')
    target = resolve_target(load_targets_file(path), "a",
                            environ={"PORT": "8080", "KEY": "key-123456"})
    assert target.base_url == "http://127.0.0.1:8080"
    assert target.secrets == frozenset({"key-123456"})


def test_a_secret_too_short_to_hide_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[targets.a]\nbase_url = "http://127.0.0.1:${PORT}"\n')
    with pytest.raises(TargetError, match=r"\$\{PORT\} is shorter than 4 characters.*public_env"):
        resolve_target(load_targets_file(path), "a", environ={"PORT": "80"})


def test_redaction_leaves_json_keys_alone() -> None:
    from pytest_deployable.redact import Redactor

    redact = Redactor(["check"])
    assert redact.value({"checks": ["a check"]}) == {"checks": ["a ***"]}


CONTRACT = """
[targets.staging]
base_url = "https://staging.shop.example"
openapi = "contracts/shop-${TENANT}.yaml"
public_env = ["TENANT"]

[targets.staging.contract]
generate = true
served = "/openapi.json"
"""


def test_the_contract_keys_resolve_and_travel_to_workers(tmp_path: Path) -> None:
    from pytest_deployable.targets import Target

    targets = load_targets_file(write(tmp_path, CONTRACT))
    target = resolve_target(targets, "staging", environ={"TENANT": "eu"})
    assert target.openapi == "contracts/shop-eu.yaml"
    assert target.contract == {"generate": True, "served": "/openapi.json"}
    assert Target.from_dict(target.to_dict()) == target


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('openapi = 3', "targets.s.openapi must be a string: the OpenAPI contract"),
        ('openapi = "a.yaml"\n[targets.s.contract]\ngenerat = true',
         "targets.s.contract: unknown key 'generat'; known keys are blocking, generate, "
         "min_coverage, pacts, served"),
        ('openapi = "a.yaml"\n[targets.s.contract]\ngenerate = "yes"',
         "targets.s.contract.generate must be true or false, not 'yes'"),
        ('[targets.s.contract]\ngenerate = true',
         "targets.s.contract needs openapi, the contract to check against"),
    ],
)
def test_bad_contract_keys_are_errors(tmp_path: Path, table: str, expected: str) -> None:
    text = f'[targets.s]\nbase_url = "https://s.example"\n{table}\n'
    with pytest.raises(TargetError, match=None) as excinfo:
        load_targets_file(write(tmp_path, text))
    assert expected in str(excinfo.value)


def test_every_target_key_has_a_checker_and_every_checker_a_key() -> None:
    # KEYS says in words what _FITS checks: a key in one table only would be a key the
    # loader accepts unchecked, or a check no user can reach.
    from pytest_deployable.target_schema import _FITS, KEYS

    assert set(_FITS) == set(KEYS)
