"""``partnerhub`` whose ``kpis`` runs one 60 s PostgreSQL statement: the test-only path to a slow request.

The statement carries ``SLOW_SQL_MARKER`` in a comment, so that
tests/test_server_process.py finds it in ``pg_stat_activity``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

import schema.query
import server


async def _slow_kpis(info, _as_of, _product=None):
    marker = os.environ.get("SLOW_SQL_MARKER", "slow")
    await info.context.session.execute(text(f"SELECT pg_sleep(60) /* {marker} */"))
    raise AssertionError("the slow statement was not stopped")


schema.query.resolve_kpis = _slow_kpis

if __name__ == "__main__":
    sys.exit(server.main(sys.argv[1:]))
