"""The `personactl` command: a thin click layer over the library.

Each command parses options, makes one library call and returns an exit code;
`personactl.cli._app.main` is the single error boundary.  The command modules load when
their command runs (`_app.COMMAND_MODULES`).
"""

from personactl.cli._app import _tune_gc, cli, main, run

__all__ = ["_tune_gc", "cli", "main", "run"]
