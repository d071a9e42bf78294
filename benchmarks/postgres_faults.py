"""PostgreSQL faults: how fast they take hold and heal, against the obvious way.

Starts a private PostgreSQL (max_connections=200) and prints medians:

- exhaust: ``exhaust_connections`` (a few threads, then a second pass)
  against opening the same number of connections one after another;
- checksum: ``table_checksum`` (rows streamed, SHA-256 in Python) against
  the usual one-statement digest ``md5(string_agg(md5(row::text)))`` on the
  server, over the same rows;
- unlock: from ``unlock_table`` until a query blocked on the lock returns;
- heal: from the end of a ``set_statement_timeout`` duration until the
  detached healer has restored the role.

Run: ``python benchmarks/postgres_faults.py --trials 5 --rows 200000``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median(func: Callable[[], float], trials: int) -> float:
    return statistics.median(func() for _ in range(trials))


def _wait(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.01)


def _sessions(conn: Any) -> int:
    row = conn.execute(
        "select count(*) from pg_stat_activity where backend_type = 'client backend'"
    ).fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()

    import psycopg

    from chaosllm.postgres import actions, probes
    from chaosllm.sandbox.app import launcher

    # As root the server runs as the postgres user, which needs to reach its
    # directory; the fault ledger goes there too, not to the user's.
    work = Path(tempfile.mkdtemp(prefix="chaosllm-bench-pg-"))
    work.chmod(0o755)
    os.environ["CHAOSLLM_STATE_DIR"] = str(work / "state")
    server = launcher.start_postgres(work / "postgres", max_connections=200)
    try:
        dsn = server.url
        admin = psycopg.connect(dsn, autocommit=True)
        admin.execute("create role bench login")
        admin.execute(
            "create table rows_t (id int primary key, tenant text, tokens int, at timestamptz);"
            "insert into rows_t select g, 'tenant-' || (g % 97), g, now()"
            f" from generate_series(1, {args.rows}) g;"
            "analyze rows_t"
        )  # fmt: skip
        base = _sessions(admin)
        slots = 200 - 3 - base

        def settle() -> None:
            _wait(lambda: _sessions(admin) == base)

        def exhaust() -> float:
            settle()
            started = time.perf_counter()
            actions.exhaust_connections("5m", postgres_dsn=dsn)
            took = time.perf_counter() - started
            actions.release_connections(postgres_dsn=dsn)
            return took

        def serial() -> float:
            settle()
            started = time.perf_counter()
            conns = [psycopg.connect(dsn, autocommit=True) for _ in range(slots)]
            took = time.perf_counter() - started
            for conn in conns:
                conn.close()
            return took

        def checksum() -> float:
            started = time.perf_counter()
            probes.table_checksum("rows_t", "id", timeout="5m", postgres_dsn=dsn)
            return time.perf_counter() - started

        def server_md5() -> float:
            started = time.perf_counter()
            admin.execute(
                "select md5(string_agg(md5(r::text), '' order by r.id)) from rows_t r"
            ).fetchone()
            return time.perf_counter() - started

        def unlock() -> float:
            actions.lock_table("rows_t", duration="5m", postgres_dsn=dsn)
            done = threading.Event()

            def reader() -> None:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("select 1 from rows_t limit 1").fetchone()
                done.set()

            thread = threading.Thread(target=reader)
            thread.start()
            _wait(lambda: bool(probes.blocked_queries(postgres_dsn=dsn)))
            started = time.perf_counter()
            actions.unlock_table("rows_t", postgres_dsn=dsn)
            done.wait(30)
            took = time.perf_counter() - started
            thread.join()
            return took

        def heal() -> float:
            actions.set_statement_timeout("bench", "100ms", duration="1s", postgres_dsn=dsn)
            expires = time.perf_counter() + 1.0

            def restored() -> bool:
                row = admin.execute(
                    "select count(*) from pg_db_role_setting s join pg_roles r"
                    " on r.oid = s.setrole where r.rolname = 'bench'"
                ).fetchone()
                return bool(row and row[0] == 0)

            _wait(restored)
            return time.perf_counter() - expires

        n = args.trials
        t_exhaust, t_serial = _median(exhaust, n), _median(serial, n)
        print(f"exhaust {slots} slots: exhaust_connections {t_exhaust * 1000:.0f} ms, "
              f"one by one {t_serial * 1000:.0f} ms (x{t_serial / t_exhaust:.1f})")
        t_sum, t_md5 = _median(checksum, n), _median(server_md5, n)
        print(f"checksum {args.rows} rows: table_checksum {t_sum * 1000:.0f} ms "
              f"({args.rows / t_sum / 1000:.0f}k rows/s), server md5(string_agg) "
              f"{t_md5 * 1000:.0f} ms (ratio {t_sum / t_md5:.2f})")
        print(f"unlock_table to blocked query done: {_median(unlock, n) * 1000:.1f} ms")
        print(f"healer restore after duration end: {_median(heal, n) * 1000:.0f} ms")
        admin.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
