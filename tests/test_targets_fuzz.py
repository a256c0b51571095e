"""Property tests: any targets file gives a valid target or one clear error, never a traceback."""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_deployable.targets import Target, TargetError, load_targets_file, resolve_target

KEYS = ["base_url", "hosts", "headers", "variables", "timeout", "retries", "protected",
        "public_env", "version_url", "version_field", "protect", "url"]

toml_scalars = st.one_of(
    st.text(alphabet=string.printable, max_size=30).map(lambda s: '"' + s.replace("\\", "\\\\")
                                                       .replace('"', '\\"')
                                                       .replace("\n", "\\n")
                                                       .replace("\r", "\\r") + '"'),
    st.integers(-5, 20).map(str),
    st.sampled_from(["true", "false", "1.5", "[]", '["local://"]', "{}", '{ A = "b" }',
                     '"http://127.0.0.1:${PORT}"', '"https://x.example"', '"${MISSING}"']),
)
lines = st.lists(st.tuples(st.sampled_from(KEYS), toml_scalars), max_size=6)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["staging", "prod", "a b", "x"]), body=lines,
       junk=st.text(max_size=20))
def test_any_targets_file_is_a_target_or_one_clear_error(
    tmp_path: Path, name: str, body: list[tuple[str, str]], junk: str
) -> None:
    text = f"[targets.{name}]\n" + "".join(f"{k} = {v}\n" for k, v in body)
    if junk:
        text += junk
    path = tmp_path / "deploy-targets.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        targets = load_targets_file(path)
        target = resolve_target(targets, name, environ={"PORT": "8080"})
    except TargetError as exc:
        message = str(exc)
        assert "\n" not in message.strip() or "invalid TOML" in message
        assert message
        return
    assert isinstance(target, Target)
    assert target.base_url or target.fleet
    assert Target.from_dict(target.to_dict()) == target
