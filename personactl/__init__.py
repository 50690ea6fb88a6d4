"""personactl: persona configuration as code for Tavus CVI.

The public API, importable from here (loaded on first use, so `personactl --version`
stays fast): `compile_project`, `apply`, `make_plan`, `open_backend`, `open_state`,
and the error types `UserError`, `ConfigErrors`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "compile_project": "personactl.compile.compilation",
    "apply": "personactl.deploy.engine",
    "make_plan": "personactl.deploy.engine",
    "open_backend": "personactl.deploy.engine",
    "open_state": "personactl.deploy.engine",
    "load_project": "personactl.project",
    "UserError": "personactl.errors",
    "ConfigErrors": "personactl.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'personactl' has no attribute {name!r}")
