"""The dispatcher's held write connection: one checkout for many transactions, same semantics as
``Database.write``, and a new checkout after a failure."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event, text

from ramal.container import Container
from ramal.store.database import Database


@pytest.fixture(autouse=True)
def _drop_probe(container: Container) -> Iterator[None]:
    yield  # the PostgreSQL test schema outlives a test
    with container.database.write() as connection:
        connection.execute(text("DROP TABLE IF EXISTS held_probe"))


def test_transactions_share_one_checkout_and_commit(container: Container) -> None:
    database = container.database
    checkouts: list[int] = []
    event.listen(database.engine, "checkout", lambda *_: checkouts.append(1))
    statements = _traced(database)
    writer = database.held_writer()
    try:
        with writer.write() as connection:
            connection.execute(text("CREATE TABLE held_probe (n INTEGER)"))
        for n in (1, 2):
            with writer.write() as connection:
                connection.execute(text("INSERT INTO held_probe VALUES (:n)"), {"n": n})
        assert len(checkouts) == 1
        if not database.is_postgresql:  # writers queue on the lock instead of failing half-way
            assert statements.count("BEGIN IMMEDIATE") == 3
    finally:
        writer.close()
    with database.read() as connection:
        assert connection.execute(text("SELECT sum(n) FROM held_probe")).scalar_one() == 3


def test_session_settings_last_for_the_held_connection_and_never_reach_the_pool(
    container: Container,
) -> None:
    """The dispatcher sets its planner settings once per connection; API requests on the same pool
    must never inherit them."""
    database = container.database
    if not database.is_postgresql:
        pytest.skip("the dispatcher makes session settings on PostgreSQL only")
    writer = database.held_writer("SET enable_sort = off")
    for _ in range(2):
        with writer.write() as connection:
            assert connection.exec_driver_sql("SHOW enable_sort").scalar_one() == "off"
    writer.close()
    with contextlib.ExitStack() as stack:  # every connection the pool holds, and one more
        held = [stack.enter_context(database.read()) for _ in range(database.engine.pool.checkedin() + 1)]
        assert {connection.exec_driver_sql("SHOW enable_sort").scalar_one() for connection in held} == {"on"}


def test_writes_begin_immediate_and_reads_deferred(container: Container) -> None:
    """``Database.write`` queues on SQLite's write lock up front; a read never takes it."""
    database = container.database
    if database.is_postgresql:
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    statements = _traced(database)
    with database.write() as connection:
        connection.execute(text("CREATE TABLE held_probe (n INTEGER)"))
    with database.read() as connection:
        connection.execute(text("SELECT count(*) FROM held_probe")).scalar_one()
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]


def _traced(database: Database) -> list[str]:
    """Every statement SQLite runs on connections checked out from now on, as the driver sends it:
    the dialect emits BEGIN below SQLAlchemy's cursor events."""
    statements: list[str] = []
    if not database.is_postgresql:
        event.listen(
            database.engine, "checkout", lambda dbapi, *_: dbapi.set_trace_callback(statements.append)
        )
    return statements


def test_a_failed_transaction_rolls_back_and_the_next_checks_a_connection_out_again(
    container: Container,
) -> None:
    database = container.database
    checkouts: list[int] = []
    event.listen(database.engine, "checkout", lambda *_: checkouts.append(1))
    writer = database.held_writer()
    with writer.write() as connection:
        connection.execute(text("CREATE TABLE held_probe (n INTEGER)"))

    def failing_step() -> None:
        with writer.write() as connection:
            connection.execute(text("INSERT INTO held_probe VALUES (1)"))
            raise RuntimeError("step failed")

    with pytest.raises(RuntimeError):
        failing_step()
    with writer.write() as connection:
        connection.execute(text("INSERT INTO held_probe VALUES (2)"))
    writer.close()
    assert len(checkouts) == 2  # the pool (pre-ping on PostgreSQL) replaces a connection that broke
    with database.read() as connection:
        assert connection.execute(text("SELECT n FROM held_probe")).scalars().all() == [2]
        assert "ramal_write" not in connection.info  # a pooled connection must not start writers' BEGIN


def test_a_second_transaction_waits_for_the_first(container: Container) -> None:
    """A shutdown step may start while a cancelled one still runs in its thread: never both at once."""
    writer = container.database.held_writer()
    inside, release, order = threading.Event(), threading.Event(), []

    def first() -> None:
        with writer.write():
            inside.set()
            release.wait(5)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(5)
    threading.Timer(0.2, release.set).start()
    with writer.write():
        order.append("second")
    thread.join(5)
    writer.close()
    assert order == ["first", "second"]
