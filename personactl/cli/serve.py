"""`personactl serve`: the local Tavus-compatible API."""

from __future__ import annotations

from pathlib import Path

import click

from personactl.cli._app import cli, examples
from personactl.errors import UserError


@cli.command(
    epilog=examples(
        "personactl serve",
        "personactl serve --port 9000 --api-key dev --rate-429 0.1",
    )
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8787, show_default=True)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file (default: .personactl/serve.db in the project or cwd).",
)
@click.option(
    "--api-key",
    envvar="PERSONACTL_SERVE_API_KEY",
    help="Require this x-api-key (also: PERSONACTL_SERVE_API_KEY).",
)
@click.option(
    "--latency-ms",
    type=float,
    default=None,
    help="Fault injection: every /v2 answer takes at least this long (a remote API's latency).",
)
@click.option(
    "--rate-429",
    type=click.FloatRange(0, 1),
    default=None,
    help="Fault injection: share of requests answered 429 with Retry-After.",
)
@click.option(
    "--rate-5xx",
    type=click.FloatRange(0, 1),
    default=None,
    help="Fault injection: share of requests answered 5xx.",
)
@click.option(
    "--retry-after", type=float, default=None, help="Fault injection: Retry-After seconds of 429s."
)
@click.option(
    "--drop-create-response",
    type=click.FloatRange(0, 1),
    default=None,
    help="Fault injection: share of creates whose response is lost (the create happens).",
)
@click.option("--seed", type=int, default=None, help="Seed of the fault injection's RNG.")
@click.option("--no-system-personas", is_flag=True, help="Do not seed the platform's personas.")
@click.option(
    "--no-access-log", is_flag=True, help="Log no line per request (less CPU per request)."
)
def serve(
    host: str,
    port: int,
    db: Path | None,
    api_key: str | None,
    no_system_personas: bool,
    no_access_log: bool,
    **fault_options: float | None,
) -> None:
    """A local Tavus-compatible API (every resource kind, conversations) over SQLite."""
    import socket
    import sqlite3

    from personactl.serve import app as server
    from personactl.serve.store import Store

    if db is None:
        from personactl.project import WORKDIR, root_or_none

        db = (root_or_none() or Path.cwd()) / WORKDIR / "serve.db"
    # options left unset keep the value from $PERSONACTL_SERVE_FAULTS
    given = {k: v for k, v in fault_options.items() if v is not None}
    try:
        faults = server.Faults.from_dict({**server.Faults.from_env().to_dict(), **given})
    except ValueError as exc:
        raise UserError(f"invalid fault settings: {exc}") from None
    # found before uvicorn starts, each as one line: a busy port, an unusable database
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        Store(db, seed_system=True).close()
    except sqlite3.Error as exc:
        raise UserError(f"{db}: cannot use it as the server's database: {exc}") from None
    click.echo(f"Serving a Tavus-compatible API on http://{host}:{port} (db {db})", err=True)
    server.run(
        host,
        port,
        db,
        api_key,
        faults,
        seed_system=not no_system_personas,
        access_log=not no_access_log,
    )
