"""INSERT ... ON CONFLICT DO UPDATE for a pull-sync page's worth of rows (thousands at a time), and plain
bulk INSERTs of log rows.

On PostgreSQL the rows travel by COPY into a temporary table and are merged by one INSERT ... SELECT.
`bulk_create(update_conflicts=True)` builds a model instance per row and quotes every value into the SQL
text; for a full pull of a big CPO network that was half of the syncing process's CPU time. Elsewhere
(SQLite, the embedded default) this is `bulk_create`.

Rows are dicts keyed by attname (`location_id`, not `location`). Fields a row leaves out get their
default; `auto_now` and `auto_now_add` fields get the current time (an update keeps `auto_now_add`
unless it is listed in `update_fields`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Lookup, Q
from django.utils import timezone


def bulk_upsert(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    returning: Sequence[str] = (),
    newer_only: str = "",
) -> list[tuple[Any, ...]]:
    """Insert `rows`, updating `update_fields` where `unique_fields` already exist.

    With `newer_only` (a field, e.g. "last_updated"), a stored row is only replaced by a row whose value is at
    least as new: checked on the locked row, so of two concurrent writers the newer wins whatever the order
    (PostgreSQL; SQLite's writers take turns, and callers check before writing).

    With no `update_fields`, rows whose key exists already are left as they are (ON CONFLICT DO NOTHING).

    Returns, for every row written, the values of the `returning` attnames (`"pk"` for the key), in no
    particular order: match them to your rows by a unique field. Duplicate keys in `rows` are an error,
    as in one INSERT.
    """
    if not rows:
        return []
    opts = model._meta
    names = list(rows[0])
    fields = _written_fields(model)
    now = timezone.now()
    fixed = {
        f.attname: now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        for f in fields
        if f.attname not in rows[0]
    }
    if connection.vendor != "postgresql" and not update_fields:
        objs = model._default_manager.bulk_create([model(**fixed, **row) for row in rows], ignore_conflicts=True)
        return [tuple(getattr(obj, name) for name in returning) for obj in objs]
    if connection.vendor != "postgresql":
        objs = model._default_manager.bulk_create(
            [model(**fixed, **row) for row in rows],
            update_conflicts=True,
            unique_fields=list(unique_fields),
            update_fields=[*update_fields, *(f.name for f in fields if getattr(f, "auto_now", False))],
        )
        return [tuple(getattr(obj, name) for name in returning) for obj in objs]

    by_attname = {f.attname: f for f in fields}
    column_of = {"pk": str(opts.pk.column)} | {key: str(f.column) for f in fields for key in (f.name, f.attname)}
    columns = [column_of[name] for name in [*names, *fixed]]
    constant = [_to_copy(by_attname[name])(value) for name, value in fixed.items()]
    updates = [column_of[name] for name in update_fields]
    if updates:  # without update fields a stored row is left as it is, `auto_now` ones included
        updates += [f.column for f in fields if getattr(f, "auto_now", False) and f.column not in updates]
    quote = connection.ops.quote_name
    table, temporary = quote(opts.db_table), quote(f"_upsert_{opts.db_table}")
    column_list = ", ".join(quote(c) for c in columns)
    conflict = ", ".join(quote(column_of[name]) for name in unique_fields)
    assignments = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updates)
    if newer_only:
        newer = quote(column_of[newer_only])
        assignments += f" WHERE {table}.{newer} <= EXCLUDED.{newer}"
    returned = ", ".join(quote(column_of[name]) for name in returning)

    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # Names below come from the model's metadata, quoted; values travel only through COPY.
        cursor.execute(
            f"CREATE TEMPORARY TABLE {temporary} ON COMMIT DROP AS SELECT {column_list} FROM {table} WITH NO DATA"  # noqa: S608 # nosec B608 - names from the models, values bound
        )
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {temporary} ({column_list}) FROM STDIN") as copy,
        ):
            for values in _copy_rows(rows, names, [by_attname[name] for name in names]):
                copy.write_row(values + constant)
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {temporary} "  # noqa: S608 # nosec B608 - names from the models, values bound
            f"ON CONFLICT ({conflict}) "
            + (f"DO UPDATE SET {assignments}" if assignments else "DO NOTHING")  # nosec B608 - names from the models, values bound
            + (f" RETURNING {returned}" if returning else "")
        )
        written = cursor.fetchall() if returning else []
        cursor.execute(f"DROP TABLE {temporary}")
    return [tuple(row) for row in written]


def bulk_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """INSERT new rows that nothing reads back at once (logs): by COPY on PostgreSQL, `bulk_create` elsewhere.

    Primary keys are not set on `objs`. COPY spends a few microseconds of Python per row where `bulk_create`
    spends a hundred, which a background writer would otherwise take from the requests it shares a process
    with.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, batch_size=500)
        return
    fields = _written_fields(model)
    convert = [_to_copy(f) for f in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        # COPY goes round Django's cursor wrapper: its errors are made Django's here (a lost connection is an
        # OperationalError, and the connection is closed for the next use), as for any other statement.
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objs:
            copy.write_row([conv(f.pre_save(obj, True)) for f, conv in zip(fields, convert, strict=True)])


def bulk_insert_rows(model: type[models.Model], rows: Sequence[dict[str, Any]], *, keys: bool = False) -> list[Any]:
    """`bulk_insert` for rows given as dicts keyed by attname (all with the same keys), without building an
    instance per row: COPY on PostgreSQL, `bulk_create` elsewhere. Fields a row leaves out get their default
    (`auto_now`/`auto_now_add`: the current time).

    With `keys`, returns the primary keys of the new rows, in the order of `rows` (for their children): on
    PostgreSQL taken from the key's sequence first, in one statement, and copied with the rows. Plain INSERTs:
    for rows whose unique fields cannot exist yet (children of a parent inserted in this transaction).
    """
    if not rows:
        return []
    fields = _written_fields(model)
    now = timezone.now()
    fixed = {
        f.attname: now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        for f in fields
        if f.attname not in rows[0]
    }
    if connection.vendor != "postgresql":
        objs = model._default_manager.bulk_create([model(**fixed, **row) for row in rows], batch_size=500)
        return [obj.pk for obj in objs] if keys else []
    by_attname = {f.attname: f for f in fields}
    names = list(rows[0])
    constant = [_to_copy(by_attname[name])(value) for name, value in fixed.items()]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = [quote(by_attname[name].column) for name in [*names, *fixed]]
    with connection.cursor() as cursor:
        pks: list[Any] = []
        if keys:
            pk = str(model._meta.pk.column)
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, len(rows)]
            )
            pks = [key for (key,) in cursor.fetchall()]
            columns.insert(0, quote(pk))
        # COPY goes round Django's cursor wrapper: its errors are made Django's here (a lost connection is an
        # OperationalError, and the connection is closed for the next use), as for any other statement.
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            values = _copy_rows(rows, names, [by_attname[name] for name in names])
            if keys:
                for key, row in zip(pks, values, strict=True):
                    copy.write_row([key, *row, *constant])
            else:
                for row in values:
                    copy.write_row(row + constant)
    return pks


def _copy_rows(
    rows: Sequence[dict[str, Any]], names: list[str], fields: list[models.Field[Any, Any]]
) -> Iterator[list[Any]]:
    """Each row's values in `names` order, JSON fields as their text (the rest as psycopg dumps them).

    One C-level `itemgetter` call a row, and Python only for the JSON values: calling a converter for every
    value (most of them the identity) cost 2.6 s of a 3,000-location pull's 64,000 rows (profiled).
    """
    get = itemgetter(*names)
    json_fields = [(i, _to_copy(f)) for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    for row in rows:
        values = [get(row)] if len(names) == 1 else list(get(row))
        for i, dump in json_fields:
            values[i] = dump(values[i])
        yield values


def _written_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Every column but a generated key (a key that is a foreign key, a one-to-one's, is written)."""
    return [f for f in model._meta.concrete_fields if not (f.primary_key and f.auto_created)]


def _same(value: Any) -> Any:
    return value


def _to_copy(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    """How a field's Python value goes into COPY: JSON as its text, the rest as psycopg dumps it."""
    if isinstance(field, models.JSONField):
        # One encoder for the field, the text `json.dumps(value, cls=field.encoder)` gives: `dumps` builds an
        # encoder per call when given a class, 2 of its 3.7 microseconds for a short list; and empty ones
        # spelled at once. A first pull dumps about 35 values per location (EVSE capabilities, connector tariff
        # ids, `extra`), 20 of them empty.
        encode = (field.encoder or json.JSONEncoder)().encode
        empty: dict[type, str] = {dict: "{}", list: "[]"}

        def dump(value: Any) -> str | None:
            if value is None:
                return None
            return encode(value) if value else empty.get(type(value)) or encode(value)

        return dump
    return _same


@models.Field.register_lookup
class _AnyOf(Lookup):
    """`column = ANY(%s)`: the values travel as one array parameter (PostgreSQL), see `any_of`."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [list(value)]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def any_of(name: str, values: Sequence[Any]) -> Q:
    """`name__in=values`, sent on PostgreSQL as `= ANY(array)`: one parameter, not one per value.

    Django spells `__in` with a placeholder per value; for a sync page's 5,000 EVSE keys psycopg's
    `_split_query` spent 2.4 s of a 3,000-location pull parsing those statements, and every length made a
    statement of its own (prepared statements are per text). An array parameter keeps one statement.
    """
    if connection.vendor != "postgresql":
        return Q(**{f"{name}__in": values})
    return Q(**{f"{name}__any_of": values})
