"""What one W1 registration costs in SQL, counted rather than timed: a change that adds a
statement, a transaction or a round trip to the registration path fails here, on any
machine."""

from __future__ import annotations

from benchmarks.statement_count import count, count_postgres
from registry_project_tests.backends import postgres_schema_url

# Today's figures for `with start_run(...): register_model(...)`, three write transactions,
# each one state change that must be seen and audited on its own (one audit event each):
# 1. the run starts RUNNING, visible to other processes and the UI while it trains: INSERT
#    run, audit event; committed with synchronous=NORMAL (PRAGMA before BEGIN, FULL again
#    after COMMIT: the 2 PRAGMAs), so it costs no fsync of its own - the next synced
#    commit makes it durable (store/engine.write_transaction);
# 2. the version: run summary, version number, version row, 5 metric rows (counted one
#    each: the driver traces every row of an executemany) and the latest-metrics copy,
#    first transition, audit event - synced, the registration's acknowledgement;
# 3. the run's end when the block exits (FINISHED or FAILED): UPDATE, audit event - synced,
#    so an acknowledged end survives a power loss.
# An audit event is 3 statements (head, event, head). Lower these when the path gets
# cheaper; never raise them without saying why in the commit.
MAX_SQLITE_STATEMENTS = 29
MAX_COMMITS = 3
MAX_SYNCED_COMMITS = 2  # each an fsync of the WAL: the version and the run's end
# On PostgreSQL (7.0 measured; 8.05 before the run's summary rode with the version number,
# 24.5 before pipelines): statements whose results nobody reads, or nobody reads yet, are
# queued and sent in one psycopg pipeline with the next statement that is read
# (store/prepared.py), BEGIN in the first pipeline and COMMIT in the last. So the run's start
# is 2 waits (BEGIN + run rows + audit head read; event + head + COMMIT), the version 3
# (the run's summary with the number, the rows with the audit head, the event + COMMIT),
# the run's end 2. No pre-ping per checkout (store/engine._guard_checkouts).
MAX_POSTGRES_ROUND_TRIPS = 7.2
# Statements executed on PostgreSQL (Execute messages, BEGIN and COMMIT included): 25, 28
# before an audit event and its head's advance became one statement (store/audit.py).
MAX_POSTGRES_STATEMENTS = 25


def test_a_registration_runs_no_more_statements_than_budgeted() -> None:
    counted = count()
    assert counted["commits"] <= MAX_COMMITS, counted
    assert counted["statements"] <= MAX_SQLITE_STATEMENTS, counted
    assert counted["synced_commits"] <= MAX_SYNCED_COMMITS, counted
    # Every transaction is explicit (BEGIN ... COMMIT).
    assert counted["by_kind"]["BEGIN"] == counted["commits"], counted


def test_a_registration_on_postgres_makes_no_more_round_trips_than_budgeted() -> None:
    with postgres_schema_url() as url:
        counted = count_postgres(url)
    assert counted["round_trips"] <= MAX_POSTGRES_ROUND_TRIPS, counted
    assert counted["by_message"]["Execute"] <= MAX_POSTGRES_STATEMENTS, counted
    assert counted["by_message"]["Sync"] >= 1, counted  # the trace saw the statements
