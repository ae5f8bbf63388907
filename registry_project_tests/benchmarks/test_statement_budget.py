"""What one W1 registration costs in SQL, counted rather than timed: a change that adds a
statement or a transaction to the registration path fails here, on any machine."""

from __future__ import annotations

from benchmarks.statement_count import count

# Today's figures on SQLite for `with start_run(...): register_model(...)`: three write
# transactions (the run starts RUNNING so it is visible while it trains, the version, the
# run's end) and what they run. Lower them when the path gets cheaper; never raise them
# without saying why in the commit.
MAX_STATEMENTS = 32
MAX_COMMITS = 3


def test_a_registration_runs_no_more_statements_than_budgeted() -> None:
    counted = count()
    assert counted["commits"] <= MAX_COMMITS, counted
    assert counted["statements"] <= MAX_STATEMENTS, counted
    # Every transaction is explicit (BEGIN ... COMMIT), one audit append per write.
    assert counted["by_kind"]["BEGIN"] == counted["commits"], counted
