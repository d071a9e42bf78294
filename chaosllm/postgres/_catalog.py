"""Names the user writes (tables and key columns), checked in the system catalog.

A name is looked up before anything changes, so that a typo is a clear
``TargetNotFound`` instead of a half-applied fault, and statements are built
from the catalog's own spelling with ``psycopg.sql`` identifiers, never by
pasting user text into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaosllm.errors import InvalidArgument, TargetNotFound

# Tables, partitioned tables, views, materialized views and foreign tables.
_RELKINDS = ("r", "p", "v", "m", "f")


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    oid: int

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def identifier(self) -> Any:
        from psycopg import sql

        return sql.Identifier(self.schema, self.name)


def split_table(table: str) -> tuple[str | None, str]:
    """``"orders"`` or ``"sales.orders"``; anything else is refused."""
    parts = table.strip().split(".") if isinstance(table, str) else []
    if not 1 <= len(parts) <= 2 or not all(parts) or "\x00" in table:
        raise InvalidArgument(f"table must be a name such as 'orders' or 'public.orders', got {table!r}")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def find_table(conn: Any, table: str, target: str) -> Table:
    """The table as the catalog spells it; unquoted-style names also match lower case.

    Without a schema, the table must be visible on the session's search_path.
    """
    schema, name = split_table(table)
    query = (
        "select n.nspname, c.relname, c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relname = %(name)s and c.relkind = any(%(kinds)s)"
        " and ((%(schema)s::text is null and pg_table_is_visible(c.oid)) or n.nspname = %(schema)s)"
    )
    candidates = [(schema, name)]
    if (schema, name) != (schema and schema.lower(), name.lower()):
        candidates.append((schema and schema.lower(), name.lower()))
    for want_schema, want_name in candidates:
        row = conn.execute(
            query, {"name": want_name, "schema": want_schema, "kinds": list(_RELKINDS)}
        ).fetchone()
        if row:
            return Table(row[0], row[1], int(row[2]))
    raise TargetNotFound(f"table {table!r} does not exist on {target}")


def find_columns(conn: Any, table: Table, columns: list[str], target: str) -> list[str]:
    """Each column as the catalog spells it, in the order given."""
    rows = conn.execute(
        "select attname from pg_attribute where attrelid = %s and attnum > 0 and not attisdropped",
        (table.oid,),
    ).fetchall()
    existing = [r[0] for r in rows]
    found = []
    for column in columns:
        if column in existing:
            found.append(column)
        elif column.lower() in existing:
            found.append(column.lower())
        else:
            raise TargetNotFound(
                f"column {column!r} does not exist in table {table.qualified} on {target}"
            )
    return found
