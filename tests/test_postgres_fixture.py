"""The throwaway PostgreSQL cluster the ledger and schema tests stand on."""

from __future__ import annotations

import subprocess
from typing import Any


def test_the_cluster_answers_sql_and_gives_fresh_databases(postgres: Any) -> None:
    first, second = postgres.create_database(), postgres.create_database()
    assert first != second
    postgres.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (41), (1)", database=first)
    assert postgres.psql("SELECT sum(x) FROM t", database=first).strip() == "42"
    names = postgres.psql("SELECT datname FROM pg_database").split()
    assert first in names
    assert second in names


def test_tcp_needs_the_password(postgres: Any) -> None:
    url = postgres.url()
    assert url.startswith("postgresql+psycopg://deployable:")
    assert f":{postgres.port}/" in url
    wrong = subprocess.run(
        [str(postgres.bin / "psql"), "-X", "-h", "127.0.0.1", "-p", str(postgres.port),
         "-U", postgres.user, "-d", "postgres", "-c", "SELECT 1"],
        capture_output=True, text=True, env={"PGPASSWORD": "not-the-password"}, check=False)
    assert wrong.returncode != 0
    assert "password authentication failed" in wrong.stderr
    right = subprocess.run(
        [str(postgres.bin / "psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p",
         str(postgres.port), "-U", postgres.user, "-d", "postgres", "-c", "SELECT 1"],
        capture_output=True, text=True, env={"PGPASSWORD": postgres.password}, check=False)
    assert right.returncode == 0, right.stderr
    assert right.stdout.strip() == "1"
