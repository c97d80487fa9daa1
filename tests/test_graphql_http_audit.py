"""The GraphQL-over-HTTP reference audit (npm ``graphql-http``) against the running server.

The audit package is installed by this test into ``.cache/graphql-http/`` (git
ignored) and the test is skipped, saying why, when npm or the registry is not
there. With a valid token the server passes every audit: 61 ok, no warning
and no notice (the four MAY notices for an ``extensions`` that is not an
object included).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "graphql-http"
SCRIPT = Path(__file__).resolve().parent / "node" / "graphql_http_audit.mjs"
VERSION = "1.23.1"

pytestmark = pytest.mark.slow


def _install() -> str | None:
    """Install graphql-http; the reason it could not be, or ``None``."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    if (CACHE / "node_modules" / "graphql-http" / "package.json").is_file():
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(CACHE),
            f"graphql-http@{VERSION}",
            "graphql@16",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return None if done.returncode == 0 else f"npm install graphql-http failed: {done.stderr.strip()[-300:]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_graphql_over_http_audit_passes_everything(tmp_path):
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the audit is of the HTTP layer: it runs once, in the SQLite pass")
    reason = _install()
    if reason:
        pytest.skip(reason)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
        "PARTNERHUB_PORT": str(port),
        "PARTNERHUB_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "serve"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        token = None
        assert server.stderr is not None
        for line in server.stderr:
            match = re.match(r"\s*TOKEN=(ph_\S+)", line)
            if match:
                token = match.group(1)
                break
        assert token, "the first start prints a TOKEN= line"
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        # Beside its node_modules: ES modules resolve packages from the script's folder.
        shutil.copy(SCRIPT, CACHE / "audit.mjs")
        node = subprocess.run(
            ["node", str(CACHE / "audit.mjs"), f"{url}/graphql", token],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=CACHE,
            env=env,
        )
        assert node.returncode == 0, node.stderr
        results = json.loads(node.stdout)
        not_ok = [r for r in results if r["status"] != "ok"]
        assert not_ok == []
        assert Counter(r["status"] for r in results) == {"ok": 61}
    finally:
        server.terminate()
        server.wait(timeout=20)
