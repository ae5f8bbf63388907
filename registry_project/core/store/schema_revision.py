"""The schema revision this package's code is written for, importable without SQLAlchemy.

Opening a registry compares a database's recorded revision with this one (migrate.py), and
so does the CLI's SQLAlchemy-free read path (sqlite_reads.py); Alembic is loaded only to
change a schema. `test_schema` checks it against the migrations directory: a new migration
must move it.
"""

from __future__ import annotations

HEAD_REVISION = "0010"
