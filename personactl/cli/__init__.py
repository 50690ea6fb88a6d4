"""The `personactl` command: a thin click layer over the library.

Each command parses options, makes one library call and returns an exit code;
`personactl.cli._app.main` is the single error boundary.
"""

from personactl.cli import (  # noqa: F401 (registers)
    compile,
    completion,
    conversation,
    deploy,
    diff,
    llm,
    serve,
    state,
)
from personactl.cli._app import _tune_gc, cli, main, run

__all__ = ["_tune_gc", "cli", "main", "run"]
