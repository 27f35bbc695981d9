"""Schema migrations: numbered SQL files per dialect, applied in order, each exactly once.

Owns: finding ``<dialect>/NNNN_name.sql`` in this package and applying the ones newer than the
database's ``schema_version``, each in its own transaction together with its version row, so a
crash leaves the schema at a known version and re-running is a no-op.
Must not: contain schema itself (that is the .sql files) or any data access.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: str) -> list[Migration]:
    """The migrations shipped for ``dialect``, in version order."""
    found: list[Migration] = []
    for entry in resources.files(__name__).joinpath(dialect).iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is not None:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers for {dialect}: {versions}")
    return found


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (``sqlite3.complete_statement``)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending[:80]!r}")
    return statements


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


def apply_sqlite_migrations(conn: sqlite3.Connection, applied_at: str) -> list[int]:
    """Bring the database up to date; returns the versions applied now (empty when current).

    ``conn`` must be in autocommit mode (``isolation_level=None``). ``BEGIN IMMEDIATE`` makes
    two processes starting at once apply each migration only once.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied: list[int] = []
    for migration in load_migrations("sqlite"):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _is_applied(conn, migration.version):
                conn.execute("ROLLBACK")
                continue
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, applied_at),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


def _is_applied(conn: sqlite3.Connection, version: int) -> bool:
    row = conn.execute("SELECT 1 FROM schema_version WHERE version = ?", (version,)).fetchone()
    return row is not None


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration (0 for an empty database)."""
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)
