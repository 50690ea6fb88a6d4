"""The throwaway PostgreSQL of tests/pgfix.py works through psycopg."""

from __future__ import annotations

import time

import psycopg

from tests.pgfix import Cluster


def test_cluster_answers_and_advisory_locks_exclude_other_sessions(pg_dsn: str) -> None:
    assert pg_dsn.startswith("postgresql://postgres@127.0.0.1:")
    with (
        psycopg.connect(pg_dsn, autocommit=True) as one,
        psycopg.connect(pg_dsn, autocommit=True) as two,
    ):
        assert one.execute("SELECT 1").fetchone() == (1,)
        assert one.execute("SELECT pg_try_advisory_lock(8)").fetchone() == (True,)
        assert two.execute("SELECT pg_try_advisory_lock(8)").fetchone() == (False,)
        one.close()  # a session that ends releases its lock: no stale locks
        # the server ends the backend a moment after the client hangs up
        deadline = time.monotonic() + 10
        while two.execute("SELECT pg_try_advisory_lock(8)").fetchone() != (True,):
            assert time.monotonic() < deadline, "the lock outlived its session"
            time.sleep(0.02)


def test_each_test_gets_its_own_database(postgres_cluster: Cluster, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE mine (x int)")
    with psycopg.connect(postgres_cluster.dsn()) as conn:
        row = conn.execute("SELECT current_database(), inet_server_port()").fetchone()
    assert row == ("postgres", postgres_cluster.port)
