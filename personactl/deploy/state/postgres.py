"""The PostgreSQL state store (DESIGN §7): every environment's state in one database.

The tables are personactl's own, created and migrated on first use
(`personactl_schema` lists the migrations applied; concurrent first uses are
serialised by a transaction-level advisory lock).  Each journal entry of an apply
(put, rm, creating, not_created) is one transaction, committed before the apply
takes its next step, so a killed apply loses nothing it recorded; `save` replaces
an environment's state in one transaction.

The apply lock is a session-level advisory lock, held by a connection of its own
for the whole block: when the process dies its session ends and the lock is gone,
so no lock is ever stale.  A row beside it names the holder (user, host, pid,
operation, start time) to whoever is refused; the advisory lock is the truth, and a
row left by a session that ended is ignored, then overwritten.

psycopg is imported only when a postgres state is used (the `postgres` extra).  The
connection string never appears in a message: psycopg's errors can quote it, so
they are scrubbed, and the store names itself by host and database only.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from personactl.deploy.state import Holder, Recorder, State, unreadable
from personactl.errors import LockHeld, UserError
from personactl.kinds import Api, kind_of
from personactl.sensitive import MASK

if TYPE_CHECKING:
    import psycopg
    from typing_extensions import LiteralString

    Connection = psycopg.Connection[tuple[Any, ...]]

EXTRA = "personactl[postgres]"
CONNECT_TIMEOUT = 10  # seconds: an unreachable database is an error, not a hang
# The first key of every advisory lock personactl takes (the second: the environment),
# so they do not collide with other applications' locks in a shared database.
LOCK_CLASS = int.from_bytes(hashlib.sha256(b"personactl").digest()[:4], "big") & 0x7FFFFFFF
MIGRATION_LOCK = 0  # second key of the lock that serialises migrations

# Migration N is MIGRATIONS[N - 1]; applied in order, each in the transaction that
# records it.  Never edit one that has shipped: append another.
MIGRATIONS: tuple[tuple[LiteralString, ...], ...] = (
    (
        """CREATE TABLE personactl_states (
            environment text PRIMARY KEY,
            lineage text NOT NULL,
            serial bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )""",
        """CREATE TABLE personactl_resources (
            environment text NOT NULL REFERENCES personactl_states ON DELETE CASCADE,
            address text NOT NULL,
            resource_id text NOT NULL,
            resource json NOT NULL,
            PRIMARY KEY (environment, address)
        )""",
        """CREATE TABLE personactl_pending_creates (
            environment text NOT NULL REFERENCES personactl_states ON DELETE CASCADE,
            address text NOT NULL,
            body json NOT NULL,
            PRIMARY KEY (environment, address)
        )""",
        # session_pid: pg_backend_pid() of the session holding the advisory lock
        """CREATE TABLE personactl_locks (
            environment text PRIMARY KEY,
            holder_user text NOT NULL,
            holder_host text NOT NULL,
            holder_pid integer NOT NULL,
            operation text NOT NULL,
            started_at text NOT NULL,
            session_pid integer NOT NULL
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# A row left by a session that ended is overwritten: the advisory lock is the truth.
_RECORD_HOLDER = """
    INSERT INTO personactl_locks VALUES (%s, %s, %s, %s, %s, %s, pg_backend_pid())
    ON CONFLICT (environment) DO UPDATE SET
        holder_user = EXCLUDED.holder_user, holder_host = EXCLUDED.holder_host,
        holder_pid = EXCLUDED.holder_pid, operation = EXCLUDED.operation,
        started_at = EXCLUDED.started_at, session_pid = EXCLUDED.session_pid
"""
_HOLDER = """
    SELECT l.holder_user, l.holder_host, l.holder_pid, l.operation, l.started_at
    FROM personactl_locks l
    WHERE l.environment = %s AND l.session_pid = %s
"""
# The session holding an advisory lock (pg_locks shows the two keys as classid, objid).
_LOCK_SESSION = """
    SELECT pid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND classid::bigint = %s AND objid::bigint = %s
"""
_URL_USERINFO = re.compile(r"(postgres(?:ql)?://)[^@/\s\"']*@", re.IGNORECASE)
_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def _lock_key(environment: str) -> int:
    return int.from_bytes(hashlib.sha256(environment.encode()).digest()[:4], "big") & 0x7FFFFFFF


class PostgresStore:
    def __init__(self, dsn: str, environment: str, dsn_env: str, api: Api = "personas") -> None:
        _require_psycopg()
        info = _conninfo(dsn)
        if info is None:  # psycopg's own message would quote it
            raise UserError(
                f"environment variable {dsn_env} does not hold a valid PostgreSQL "
                "connection string",
                hint="postgresql://USER:PASSWORD@HOST:5432/DBNAME, or key=value pairs",
            )
        self._dsn = dsn
        self.environment = environment
        self.api = api
        self.dsn_env = dsn_env
        self._key = _lock_key(environment)
        password = str(info.get("password") or "")  # as parsed: percent-decoded
        self._secrets = tuple(sorted({s for s in (dsn, password) if s}, key=len, reverse=True))
        host = info.get("host") or "localhost"
        self.where = f"postgres state {host}/{info.get('dbname') or info.get('user') or '?'}"
        self._migrated = False

    # -- connections, errors -----------------------------------------------------------

    def scrub(self, text: str) -> str:
        """`text` without the connection string or any part of it that is a credential."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _URL_USERINFO.sub(rf"\1{MASK}@", text)
        return _PASSWORD.sub(rf"\1{MASK}", text)

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """psycopg's errors as one scrubbed line naming the store, never the DSN."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise UserError(
                f"{self.where}: {doing}: {self.scrub(detail) or type(exc).__name__}",
                hint=f"check the connection string in {self.dsn_env} "
                "and that the database accepts connections",
            ) from None

    def _connect(self) -> Connection:
        """An autocommit connection (transactions are explicit), schema migrated."""
        import psycopg

        with self._errors("cannot connect"):
            conn = psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name=f"personactl {self.environment}",
            )
        try:
            if not self._migrated:
                with self._errors("cannot migrate the state tables"):
                    migrate(conn, self.where)
                self._migrated = True
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _session(self, doing: str) -> Iterator[Connection]:
        conn = self._connect()
        try:
            with self._errors(doing):
                yield conn
        finally:
            conn.close()

    # -- the StateStore protocol -------------------------------------------------------

    def load(self) -> State:
        with self._session("cannot read the state") as conn:
            return self._read(conn)

    def save(self, state: State) -> None:
        with self._session("cannot save the state") as conn:
            self._write(conn, state)

    def recorder(self, state: State) -> Recorder:
        pool = _Pool(self._connect)
        try:
            with pool.connection() as conn, self._errors("cannot start the journal"):
                _ensure_head(conn, self.environment, state)
        except BaseException:
            pool.close()
            raise

        def sink(entry: dict[str, Any], _encoded: Mapping[str, str]) -> None:
            with pool.connection() as conn, self._errors(f"cannot record {entry['address']}"):
                _journal(conn, self.environment, entry)

        def finish() -> None:
            try:
                with pool.connection() as conn, self._errors("cannot save the state"):
                    self._write(conn, state)
            finally:
                pool.close()

        return Recorder(state, sink, finish)

    @contextlib.contextmanager
    def lock(self, operation: str) -> Iterator[None]:
        import psycopg

        conn = self._connect()  # holds the advisory lock: it lives as long as this session
        try:
            with self._errors("cannot take the state lock"):
                if not _try_lock(conn, self._key):
                    raise LockHeld(
                        f"state is locked: {self._holder(conn)}",
                        hint="wait for it to finish; the lock frees itself when that "
                        "process ends (a killed one included), no unlock needed",
                    )
                holder = Holder.me(operation)
                conn.execute(
                    _RECORD_HOLDER,
                    (self.environment, holder.user, holder.host, holder.pid)
                    + (holder.operation, holder.started_at),
                )
            yield
            # the session's end would release the lock too; this is the tidy way
            with contextlib.suppress(psycopg.Error):
                conn.execute(
                    "DELETE FROM personactl_locks"
                    " WHERE environment = %s AND session_pid = pg_backend_pid()",
                    (self.environment,),
                )
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, self._key))
        finally:
            conn.close()

    def unlock(self) -> str | None:
        """Clear the record of a holder whose session ended.  A live lock is not broken:
        it belongs to a running session and goes when that session does."""
        with self._session("cannot check the state lock") as conn:
            if not _try_lock(conn, self._key):
                raise UserError(
                    f"state is locked: {self._holder(conn)}; a PostgreSQL advisory lock "
                    "is never stale (it frees itself when the holder's session ends)",
                    hint="wait for it, or stop that process; nothing was changed",
                )
            try:
                row = conn.execute(
                    "DELETE FROM personactl_locks WHERE environment = %s RETURNING "
                    "holder_user, holder_host, holder_pid, operation, started_at",
                    (self.environment,),
                ).fetchone()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, self._key))
        if row is None:
            return None
        return f"{Holder(*row).describe()}; its session had ended, the record is cleared"

    # -- rows <-> State ----------------------------------------------------------------

    def _holder(self, conn: Connection) -> str:
        """Who holds the lock: the row of the session that holds it."""
        session = conn.execute(_LOCK_SESSION, (LOCK_CLASS, self._key)).fetchone()
        if session is None:  # released between the refusal and this query
            return "held by a session that has just ended; try again"
        row = conn.execute(_HOLDER, (self.environment, session[0])).fetchone()
        if row is None:  # taken a moment ago, the row not yet written
            return f"held by PostgreSQL session {session[0]} (its holder not yet recorded)"
        return Holder(*row).describe()

    def _read(self, conn: Connection) -> State:
        env = (self.environment,)
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            head = conn.execute(
                "SELECT lineage, serial FROM personactl_states WHERE environment = %s", env
            ).fetchone()
            resources = conn.execute(
                "SELECT address, resource FROM personactl_resources WHERE environment = %s",
                env,
            ).fetchall()
            pending = conn.execute(
                "SELECT address, body FROM personactl_pending_creates WHERE environment = %s",
                env,
            ).fetchall()
        raw: dict[str, Any] = {
            "environment": self.environment,
            "lineage": head[0] if head else None,
            "serial": head[1] if head else 0,
            "resources": dict(resources),
            "pending_creates": dict(pending),
        }
        try:
            # the checks every store makes
            return State.from_data(raw, self.environment, self.api)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise unreadable(self.where, exc) from None

    def _write(self, conn: Connection, state: State) -> None:
        """Replace the environment's state, in one transaction."""
        from psycopg.types.json import Json

        env = self.environment
        state.next_version()
        with conn.transaction():
            conn.execute(
                """INSERT INTO personactl_states (environment, lineage, serial)
                VALUES (%s, %s, %s) ON CONFLICT (environment) DO UPDATE SET
                lineage = EXCLUDED.lineage, serial = EXCLUDED.serial, updated_at = now()""",
                (env, state.lineage, state.serial),
            )
            conn.execute("DELETE FROM personactl_resources WHERE environment = %s", (env,))
            conn.execute("DELETE FROM personactl_pending_creates WHERE environment = %s", (env,))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO personactl_resources VALUES (%s, %s, %s, %s)",
                    [
                        (env, a, r.id, Json(r.data(state.kind(a).id_field)))
                        for a, r in sorted(state.resources.items())
                    ],
                )
                cur.executemany(
                    "INSERT INTO personactl_pending_creates VALUES (%s, %s, %s)",
                    [(env, a, Json(body)) for a, body in sorted(state.pending.items())],
                )


class _Pool:
    """The journal's connections: one per writer at a time, made as needed, so the
    commits of an apply's parallel workers overlap instead of queueing on one."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._idle: list[Connection] = []
        self._all: list[Connection] = []

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            with self._lock:
                self._idle.append(conn)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()


def migrate(conn: Connection, where: str) -> int:
    """Bring personactl's tables to SCHEMA_VERSION (idempotent); the version found."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, MIGRATION_LOCK))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS personactl_schema (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )"""
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM personactl_schema").fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise UserError(
                f"{where}: the state tables are at schema version {found}, newer than this "
                f"personactl knows ({SCHEMA_VERSION})",
                hint="upgrade personactl; nothing was changed",
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute("INSERT INTO personactl_schema (version) VALUES (%s)", (version,))
    return found


def _try_lock(conn: Connection, key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, key)).fetchone()
    return bool(row and row[0])


def _ensure_head(conn: Connection, environment: str, state: State) -> None:
    """The environment's row (its lineage) exists before the first entry is journaled."""
    conn.execute(
        """INSERT INTO personactl_states (environment, lineage, serial) VALUES (%s, %s, %s)
        ON CONFLICT (environment) DO NOTHING""",
        (environment, state.ensure_lineage(), state.serial),
    )


# Each journal entry is one statement, so one transaction and one round trip (an
# autocommit statement commits on its own); `put`, `rm` and `not_created` each settle
# a pending create in the same statement.  Mirrors State.apply_entry.
_SETTLE = """DELETE FROM personactl_pending_creates
    WHERE environment = %(env)s AND address = %(address)s"""
_JOURNAL: dict[str, LiteralString] = {
    "put": f"""WITH settled AS ({_SETTLE})
        INSERT INTO personactl_resources
        VALUES (%(env)s, %(address)s, %(id)s, %(resource)s)
        ON CONFLICT (environment, address) DO UPDATE SET
        resource_id = EXCLUDED.resource_id, resource = EXCLUDED.resource""",
    "rm": f"""WITH settled AS ({_SETTLE})
        DELETE FROM personactl_resources
        WHERE environment = %(env)s AND address = %(address)s""",
    "creating": """INSERT INTO personactl_pending_creates
        VALUES (%(env)s, %(address)s, %(body)s)
        ON CONFLICT (environment, address) DO UPDATE SET body = EXCLUDED.body""",
    "not_created": _SETTLE,
}


def _journal(conn: Connection, environment: str, entry: Mapping[str, Any]) -> None:
    """One Recorder entry, committed when this returns."""
    from psycopg.types.json import Json

    params = {"env": environment, "address": entry["address"]}
    if "resource" in entry:
        # the journal writes the id under the kind's field for the environment's api
        params["id"] = kind_of(entry["address"]).id_of(entry["resource"]) or next(
            v for k, v in entry["resource"].items() if k.endswith("_id")
        )
        params["resource"] = Json(entry["resource"])
    if "body" in entry:
        params["body"] = Json(entry["body"])
    conn.execute(_JOURNAL[entry["op"]], params)


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise UserError(
            "a postgres state needs psycopg, which is not installed",
            hint=f"pip install '{EXTRA}'",
        ) from None


def _conninfo(dsn: str) -> dict[str, Any] | None:
    """The parsed connection string, or None when it does not parse."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - its message quotes the DSN: never shown
        return None
