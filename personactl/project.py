"""personactl.yaml: finding the project, its variables and its environments."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from personactl.compile.envelope import (
    BACKENDS,
    ENVIRONMENT,
    FORMAT_VERSION,
    PROJECT,
    STATE,
    STATE_BACKENDS,
    BackendName,
    StateBackendName,
    check_envelope,
    expect_choice,
    expect_map,
)
from personactl.compile.source import PMap, load_file
from personactl.errors import ConfigErrors, Loc, Problem, UserError, did_you_mean
from personactl.kinds import APIS, PERSONAS, RESOURCE_KINDS, Api

PROJECT_FILE = "personactl.yaml"
WORKDIR = ".personactl"
DEFAULT_API_URL: str = ENVIRONMENT.key("api_url").default
DEFAULT_API_KEY_ENV: str = ENVIRONMENT.key("api_key_env").default
ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
API_SCHEMES = ("https", "http")
STATE_DSN_ENV: str = STATE.key("dsn_env").default  # DESIGN §7
_SECRET_CALL = re.compile(r"""secret\(\s*['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class StateConfig:
    """Where an environment's state lives: `state:` as a path (a file) or a mapping."""

    backend: StateBackendName = "file"
    path: str | None = None  # backend file: relative to the project (default under .personactl/)
    dsn_env: str = STATE_DSN_ENV  # backend postgres: the env var with the connection string


@dataclass(frozen=True)
class Environment:
    name: str
    backend: BackendName
    api_url: str
    api: Api  # personas (/v2/personas, persona_id) or pals (/v2/pals, pal_id)
    api_key_env: str
    state: StateConfig
    vars: PMap
    overrides: PMap
    loc: Loc | None


@dataclass(frozen=True)
class Project:
    root: Path
    vars: PMap
    environments: dict[str, Environment]
    default_environment: str

    @property
    def personas_dir(self) -> Path:
        return self.root / "personas"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def conversations_dir(self) -> Path:
        return self.root / "conversations"

    @property
    def source_dirs(self) -> tuple[Path, ...]:
        """Every folder a compile reads (DESIGN §2)."""
        kinds = (self.root / k.folder for k in (PERSONAS, *RESOURCE_KINDS))
        return (*kinds, self.templates_dir, self.conversations_dir)

    @property
    def workdir(self) -> Path:
        return self.root / WORKDIR

    def environment(self, name: str | None) -> Environment:
        name = name or self.default_environment
        env = self.environments.get(name)
        if env is None:
            known = ", ".join(sorted(self.environments)) or "none"
            raise UserError(f"unknown environment '{name}'", hint=f"environments: {known}")
        return env

    def command(self, env: Environment, words: str) -> str:
        """`personactl WORDS` as a hint names it: with `--env` unless `env` is the default
        (a hint copied as shown must act on the environment it is about)."""
        flag = "" if env.name == self.default_environment else f"--env {env.name} "
        return f"personactl {flag}{words}"

    def state_path(self, env: Environment) -> Path:
        """The state file of an environment whose state backend is `file`."""
        if env.state.path:
            return self.root / env.state.path
        return self.workdir / "state" / f"{env.name}.json"

    def confined(self, path: Path, folder: Path) -> bool:
        return confined(path, folder, self.root)

    def secret_env_names(self) -> dict[str, str]:
        """Environment variables that hold secrets, each with why: env() may not read them.

        The API key variables of every environment (and the default), the state
        backend's connection string, and every name the repository passes to secret()
        as a literal (a template that computes the name is caught when secret() runs)."""
        names = {DEFAULT_API_KEY_ENV: "the default api_key_env", STATE_DSN_ENV: "a dsn_env"}
        for env in self.environments.values():
            names.setdefault(env.api_key_env, f"the api_key_env of environment '{env.name}'")
            names.setdefault(env.state.dsn_env, f"the dsn_env of environment '{env.name}'")
        for folder in self.source_dirs:
            for path in files_under(folder, self.root):
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):  # reported where the file is loaded
                    continue
                for name in _SECRET_CALL.findall(text):
                    names.setdefault(name, "used with secret()")
        return names

    def shown(self, path: Path) -> str:
        text, prefix = str(path), f"{self.root}/"
        if text.startswith(prefix):  # what relative_to answers, without its parsing
            return text[len(prefix) :]
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def walk(
    folder: Path, skip: Callable[[str], bool] | None = None
) -> Iterator[tuple[Path, os.DirEntry[str]]]:
    """Every entry under `folder` with its path, as `rglob("*")` finds them: directories
    entered, links to directories not; an entry whose name `skip` refuses is neither
    yielded nor entered.  By scandir: pathlib's per-entry cost is most of a listing."""
    pending = [folder]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:  # unreadable: whoever reads its files reports it
            continue
        for entry in entries:
            if skip is not None and skip(entry.name):
                continue
            path = directory / entry.name
            yield path, entry
            if entry.is_dir(follow_symlinks=False):
                pending.append(path)


def files_under(folder: Path, root: Path) -> list[Path]:
    """Every file under `folder`, sorted, that no link takes out of it: what `rglob("*")`
    with `is_file()` and `confined` give (links to directories not followed), resolving
    only the links instead of every file (a walk of real directories cannot leave)."""
    if not folder.is_dir() or not folder.resolve().is_relative_to(root):
        return []
    return sorted(
        path
        for path, entry in walk(folder)
        if (entry.is_file(follow_symlinks=False) and not entry.is_symlink())
        or (entry.is_symlink() and path.is_file() and confined(path, folder, root))
    )


def confined(path: Path, folder: Path, root: Path) -> bool:
    """Whether `path` (symlinks resolved) is inside `folder`, itself inside `root`
    (resolved): a link to /proc/self/environ or ../secrets is refused."""
    inside = os.path.realpath(folder)  # strings: pathlib's resolve() costs 3x, per file read
    return _within(inside, str(root)) and _within(os.path.realpath(path), inside)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def find_root(start: Path | None) -> Path:
    """The directory holding personactl.yaml: `start` itself with -C, else walk up from cwd."""
    if start is not None:
        if not (start / PROJECT_FILE).is_file():
            raise UserError(f"{start}: no {PROJECT_FILE} here", hint="run `personactl init`")
        return start.resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    raise UserError(
        f"no {PROJECT_FILE} found in {here} or any parent directory",
        hint="run `personactl init` or pass -C DIR",
    )


def root_or_none() -> Path | None:
    """The enclosing project's root, or None outside any project."""
    try:
        return find_root(None)
    except UserError:
        return None


def load_project(start: Path | None = None) -> Project:
    root = find_root(start)
    if not confined(root / PROJECT_FILE, root, root) or not (root / PROJECT_FILE).is_file():
        raise UserError(f"{PROJECT_FILE}: not a file inside {root} (a symlink out of it?)")
    data, problems = load_file(root / PROJECT_FILE, PROJECT_FILE)
    if problems:
        raise ConfigErrors(problems)
    top = expect_map(data, Loc(PROJECT_FILE, 1, 1), PROJECT_FILE, problems)
    check_envelope(top, PROJECT, problems)
    version = top.get("version", FORMAT_VERSION)
    if isinstance(version, bool) or version != FORMAT_VERSION:
        problems.append(
            Problem(
                top.val_locs.get("version"),
                f"unsupported version {version!r}",
                "this personactl reads version: 1",
            )
        )
    project_vars = expect_map(top.get("vars"), top.val_locs.get("vars"), "vars", problems)
    envs_node = expect_map(
        top.get("environments"), top.val_locs.get("environments"), "environments", problems
    )
    environments = {}
    for name, node in envs_node.items():
        if not ENV_NAME.fullmatch(name):
            # the name becomes part of file names (state, cache): no paths
            problems.append(
                Problem(
                    envs_node.key_locs.get(name),
                    f"environment name {name!r} is not allowed",
                    "use letters, digits, '-' and '_' (up to 64, starting with a letter or digit)",
                )
            )
            continue
        environments[name] = _environment(name, node, envs_node.val_locs.get(name), problems)
    if not environments:
        environments["local"] = _environment("local", PMap(), None, problems)
    default = top.get("default_environment", "local" if "local" in environments else None)
    if not isinstance(default, str) or default not in environments:
        problems.append(
            Problem(
                top.val_locs.get("default_environment", top.loc),
                f"default_environment {default!r} is not a declared environment"
                if default is not None
                else "default_environment is required when there is no 'local' environment",
                f"environments: {', '.join(sorted(environments))}",
            )
        )
    if problems:
        raise ConfigErrors(problems)
    return Project(root, project_vars, environments, str(default))


def _environment(name: str, node: Any, loc: Loc | None, problems: list[Problem]) -> Environment:
    env = expect_map(node, loc, f"environment '{name}'", problems)
    check_envelope(env, ENVIRONMENT, problems, f"environment '{name}'")
    backend = env.get("backend", "local")
    expect_choice(
        env,
        "backend",
        BACKENDS,
        problems,
        default="local",
        near=loc,
        message="unknown backend",
        hint="backend is local or tavus",
    )

    api = env.get("api", "personas")
    expect_choice(
        env,
        "api",
        APIS,
        problems,
        default="personas",
        near=loc,
        message="unknown api",
        hint=did_you_mean(str(api), APIS) or "api is personas or pals",
    )

    def text(key: str, default: str | None) -> str | None:
        value = env.get(key, default)
        if value is not None and not isinstance(value, str):
            problems.append(Problem(env.val_locs.get(key), f"{key} must be a string"))
            return default
        return value

    api_url = (text("api_url", DEFAULT_API_URL) or DEFAULT_API_URL).rstrip("/")
    problem = api_url_problem(api_url)
    if problem:
        # a configuration error, found now: never retried like a network failure
        problems.append(
            Problem(
                env.val_locs.get("api_url", loc),
                f"api_url {api_url!r} {problem}",
                "e.g. https://tavusapi.com",
            )
        )
    return Environment(
        name=name,
        backend=backend if backend in BACKENDS else "local",
        api_url=api_url,
        api=api if api in APIS else "personas",
        api_key_env=text("api_key_env", DEFAULT_API_KEY_ENV) or DEFAULT_API_KEY_ENV,
        state=_state(env, name, problems),
        vars=expect_map(env.get("vars"), env.val_locs.get("vars"), "vars", problems),
        overrides=expect_map(
            env.get("overrides"), env.val_locs.get("overrides"), "overrides", problems
        ),
        loc=loc,
    )


def _state(env: PMap, name: str, problems: list[Problem]) -> StateConfig:
    node = env.get("state")
    loc = env.val_locs.get("state", env.loc)
    if node is None:
        return StateConfig()
    if isinstance(node, str) and node:
        return StateConfig(path=node)
    if not isinstance(node, PMap):
        problems.append(
            Problem(
                loc,
                "state must be a file path or a mapping",
                "e.g. state: state/prod.json, or state: {backend: postgres}",
            )
        )
        return StateConfig()
    what = f"the state of environment '{name}'"
    check_envelope(node, STATE, problems, what)
    backend = node.get("backend", "file")
    if not expect_choice(
        node,
        "backend",
        STATE_BACKENDS,
        problems,
        default="file",
        near=loc,
        message="unknown state backend",
        hint="backend is file or postgres",
    ):
        return StateConfig()
    values: dict[str, str] = {}
    for key in ("path", "dsn_env"):
        value = node.get(key)
        at = node.key_locs.get(key, loc)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            problems.append(Problem(at, f"state {key} must be a non-empty string"))
        elif (key == "path") != (backend == "file"):
            other = "postgres" if key == "dsn_env" else "file"
            problems.append(Problem(at, f"state {key} belongs to backend {other}, not {backend}"))
        else:
            values[key] = value
    return StateConfig(backend, values.get("path"), values.get("dsn_env", STATE_DSN_ENV))


def api_url_problem(url: str) -> str:
    """What is wrong with `url` as an API base URL ("" when nothing)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # parses it: ValueError when out of range or not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in API_SCHEMES:
        return "must start with https:// (or http://)"
    if not parts.hostname or any(c.isspace() or ord(c) < 32 for c in url):
        return "has no valid host name"
    if port == 0:
        return "has port 0"
    return ""
