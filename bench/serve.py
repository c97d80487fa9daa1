"""Start the real server for the benchmark, optionally as a variant.

    python bench/serve.py --server-dir DIR [--executor stock] [--loop asyncio --http h11] -- serve --port P

Runs ``server.main([...])`` — the same code path as ``partnerhub serve`` —
from the source tree ``DIR`` (default: this checkout). The variants exist to
measure optimisations against their absence with the same harness:
``--executor stock`` gives strawberry its stock execution context, and
``--loop``/``--http`` override uvicorn's event loop and HTTP parser.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-dir", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--executor", choices=["default", "stock"], default="default")
    parser.add_argument("--loop", default=None)
    parser.add_argument("--http", default=None)
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    server_dir = str(Path(args.server_dir).resolve())
    sys.path.insert(0, server_dir)
    os.chdir(server_dir)

    import server

    assert Path(server.__file__).resolve().parent == Path(server_dir), server.__file__
    if args.executor == "stock":
        from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

        from schema.schema import schema

        schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
    if args.loop or args.http:
        import uvicorn

        real_run = uvicorn.run

        def run(*a, **kw):
            if args.loop:
                kw["loop"] = args.loop
            if args.http:
                kw["http"] = args.http
            return real_run(*a, **kw)

        uvicorn.run = run
    rest = [a for a in args.rest if a != "--"]
    return server.main(rest)


if __name__ == "__main__":
    sys.exit(main())
