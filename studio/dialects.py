"""Where the history lives and how SQL reaches it: the database URL, and one small class per
dialect (SQLite, PostgreSQL) holding what differs between them.

`HistoryStore` (studio.store) keeps every piece of logic and writes portable SQL (`?` placeholders,
`INSERT ... ON CONFLICT`, COALESCE, CASE, ISO-8601 text timestamps); a dialect opens connections,
runs statements, serializes writers (`transaction()`), applies the schema and turns its driver's
errors into `StoreError`s with a plain message. The few things SQL cannot say the same way on both
(full-text search, an index hint, reaching into JSON) are small methods here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import ParamsError

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")
REDACTED = "***"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ON_CONFLICT = {"": "", "ignore": " ON CONFLICT DO NOTHING"}


def checked_database_url(url: str) -> str:
    """A `sqlite:///path` or `postgresql://...` URL, as given; ParamsError (a ValueError, for the
    settings validators) otherwise. The message never repeats the URL: it may hold a password."""
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        if not url.startswith(SQLITE_PREFIX) or not url[len(SQLITE_PREFIX) :].strip():
            raise ParamsError("a SQLite URL is sqlite:/// and the file's path, e.g. sqlite:////srv/studio/studio.db")
        return url
    if scheme in POSTGRES_SCHEMES:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (a bad port raises here)
        except ValueError:
            raise ParamsError(
                "is not a valid PostgreSQL URL (postgresql://user:password@host:5432/database); check the port"
            ) from None
        if not url.startswith(f"{scheme}://") or not parts.path.strip("/"):
            raise ParamsError("a PostgreSQL URL names the database: postgresql://user:password@host:5432/database")
        return url
    shown = f"{scheme}://…" if scheme else "no scheme"
    raise ParamsError(f"must be unset, sqlite:///path or postgresql://user:password@host:5432/database (got {shown})")


def redacted_url(url: str) -> str:
    "The URL with its password (if any) replaced by ***, for messages and logs."
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{host}"))


def sqlite_path(url: str) -> Path:
    "The file a sqlite:/// URL names."
    return Path(unquote(url[len(SQLITE_PREFIX) :]))  # sqlite:///relative/path, sqlite:////absolute/path


def insert_sql(table: str, columns: Sequence[str], on_conflict: str = "") -> str:
    "A portable INSERT of one row (`on_conflict`: '' or 'ignore'); names are checked, values are `?`."
    for name in (table, *columns):
        if not IDENTIFIER.fullmatch(name):
            raise ParamsError(f"{name!r} is not a table or column name")
    if on_conflict not in ON_CONFLICT:
        raise ParamsError(f"on_conflict must be '' or 'ignore', not {on_conflict!r}")
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(columns))}){ON_CONFLICT[on_conflict]}'


class Cursor(Protocol):
    description: Any
    rowcount: int

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Transaction:
    """Portable statements inside one transaction (`HistoryStore.transaction()`): writers are
    serialized, so what is read here is still true when it is written."""

    def __init__(self, run: Any):
        self._run = run  # (sql, params) -> a DB-API cursor, errors already the dialect's to translate

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        "The rows of one read, as dicts."
        return rows_of(self._run(sql, params))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        "One write; the rows it changed."
        return int(self._run(sql, params).rowcount)

    def execute_many(self, sql: str, params: Sequence[Sequence[Any]]) -> int:
        "One write per parameter list; the rows they changed."
        return sum(self.execute(sql, p) for p in params)

    def insert(self, table: str, row: dict[str, Any], *, on_conflict: str = "") -> None:
        "Insert one row (`on_conflict='ignore'`: a row whose key exists is skipped)."
        self._run(insert_sql(table, list(row), on_conflict), list(row.values()))


def rows_of(cursor: Cursor) -> list[dict[str, Any]]:
    "A cursor's rows as dicts (none for a statement that returns no rows)."
    if cursor.description is None:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
