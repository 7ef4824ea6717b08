"""The least an HTTP endpoint can cost: a bare Starlette app answering captured raw SQL as JSON.

bench/statement.py compares ``/extrato/list`` with the raw SQL it sends, but no HTTP endpoint can
answer in the time of its SQL alone: the request still crosses uvicorn, the event loop, a thread
(a blocking driver must run off the loop) and the client. This app is that floor. For each request
body the benchmark will send, it holds the statements ramal issues for it (captured by the
benchmark); a request reads its form, runs those statements on one raw DBAPI connection (the raw
floor's: sqlite3 / psycopg, fetching every row) in a thread, and answers the rows with orjson.
Nothing else: no token check, no envelope, no formatting of dates.

    python bench/bare_sql_app.py PORT DATABASE_URL STATEMENTS_PICKLE

``STATEMENTS_PICKLE`` holds a list of ``(path, body, [(sql, parameters), ...])``, pickled because
the parameters are the driver's own (tuples of text on SQLite, dicts of datetimes on PostgreSQL). It
runs under uvicorn with ``ramal serve``'s options (:data:`ramal.cli.server.UVICORN_OPTIONS`), one
process.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ramal.cli.server import UVICORN_OPTIONS
from ramal.store.database import Database

Statements = list[tuple[str, Any]]
Key = tuple[str, tuple[tuple[str, str], ...]]


def create_app(database_url: str, captured: list[tuple[str, str, Statements]]) -> Starlette:
    statements = {(path, tuple(parse_qsl(body))): pairs for path, body, pairs in captured}
    database = Database.from_url(database_url)
    raw = database.engine.raw_connection()
    raw.detach()
    turn = threading.Lock()  # one connection: a second request would wait for the first

    def run(key: Key) -> list[Any]:
        with turn:
            return replay(raw, statements[key])

    async def answer(request: Request) -> Response:
        form = tuple(parse_qsl((await request.body()).decode()))
        rows = await asyncio.to_thread(run, (request.url.path, form))
        return Response(orjson.dumps({"rows": [list(r) for r in rows]}), media_type="application/json")

    async def ready(_: Request) -> Response:
        return Response(b"ok")

    return Starlette(
        routes=[
            Route("/readyz", ready),
            Route("/{path:path}", answer, methods=["POST"]),
        ]
    )


def replay(raw: Any, statements: Statements) -> list[Any]:
    """Run the statements on a raw DBAPI connection, fetching every row; the last one's rows.

    Both floors run this: bench/statement.py in its own process, this app behind HTTP.
    """
    cursor = raw.cursor()
    rows: list[Any] = []
    for statement, parameters in statements:
        cursor.execute(statement, parameters)
        rows = cursor.fetchall()
    cursor.close()
    raw.commit()
    return rows


def main() -> None:
    port, database_url, statements_file = sys.argv[1:4]
    captured = pickle.loads(Path(statements_file).read_bytes())
    uvicorn.run(create_app(database_url, captured), host="127.0.0.1", port=int(port), **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
