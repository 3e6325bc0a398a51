"""Querysets compiled to SQL once per process, for the few reads on a hot path.

Django compiles a queryset to SQL every time it is evaluated. For a token with its driver (about forty
columns through `select_related`) that costs some 0.4 ms of Python, three times what sending the query
and reading its row costs; on real-time authorization, where a driver waits at the charger, it was the
largest single cost. A PreparedQuery compiles its queryset once, with placeholder values, and afterwards
only puts the call's values in, runs the SQL and builds the instances as Django does (the database's
converters, `select_related` objects).

Values are matched to their placeholders by value, so they must be compared as they are stored: strings
(CharField and TextField look-ups) or, declared as `ints`, integers (primary and foreign keys). An integer's
placeholder is a negative number no key takes. Declared as `datetimes`, aware datetimes reach the SQL as they
are on PostgreSQL only (elsewhere Django turns them into text): for statements that embed `sql()` there.

A queryset that locks (`select_for_update`) is compiled inside a transaction, as Django requires; the statement
that embeds it may run alone, being atomic by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db import connections, models, router, transaction
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=models.Model)

_PLACEHOLDER = "\x00prepared:{}\x00"
_INT_PLACEHOLDER = -2_147_000_000  # minus the name's position; inside a 32-bit integer column's range
_DATETIME_PLACEHOLDER = datetime(1, 1, 1, tzinfo=UTC)  # plus the name's position in microseconds


@dataclass(frozen=True)
class _Compiled:
    compiler: SQLCompiler  # the select list and how rows map to models; bound to one thread's connection
    sql: str
    params: tuple[Any, ...]
    slots: dict[int, str]  # position in params -> name of the value that goes there
    converters: dict[int, Any]  # the database's converters by column, as Django's results_iter finds them
    model_columns: slice  # the queryset model's columns
    init_list: list[str]  # their attnames
    related_populators: list[Any]  # Django's builders of select_related objects
    annotations: list[tuple[str, int]]  # (name, column)


class PreparedQuery(Generic[M]):
    """`build(**values)` returns the queryset; `names` are its string parameters.

    >>> tokens = PreparedQuery(lambda uid: Token.objects.select_related("driver").filter(uid=uid), "uid")
    >>> tokens.all(uid="0102030405")
    >>> mine = PreparedQuery(lambda pk, owner: Token.objects.filter(pk=pk, driver_id=owner), ints=("pk", "owner"))
    """

    def __init__(
        self,
        build: Callable[..., models.QuerySet[M]],
        *names: str,
        ints: Sequence[str] = (),
        datetimes: Sequence[str] = (),
    ) -> None:
        self._placeholders: dict[str | int | datetime, str] = {_PLACEHOLDER.format(name): name for name in names}
        self._placeholders.update({_INT_PLACEHOLDER - n: name for n, name in enumerate(ints)})
        self._placeholders.update(
            {_DATETIME_PLACEHOLDER + timedelta(microseconds=n): name for n, name in enumerate(datetimes)}
        )
        self._queryset = build(**{name: value for value, name in self._placeholders.items()})
        self._names = frozenset(names) | frozenset(ints) | frozenset(datetimes)
        self._ints = frozenset(ints)
        self._datetimes = frozenset(datetimes)
        # Per thread, as the compiler holds its thread's connection (Django's connections are per thread).
        self._local = threading.local()

    def all(self, **values: str | int | datetime) -> list[M]:
        sql, params = self.sql(**values)
        with self._compiled_for_thread().compiler.connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return self.instances(rows)

    def sql(self, **values: str | int | datetime) -> tuple[str, list[Any]]:
        """The SELECT and its parameters, for a statement that embeds it (its rows go to `instances`)."""
        if values.keys() != self._names:
            raise TypeError(f"expected values for {sorted(self._names)}, got {sorted(values)}")
        for name in self._ints:
            if type(values[name]) is not int:
                raise TypeError(f"{name} must be an int, got {values[name]!r}")
        for name in self._datetimes:
            value = values[name]
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise TypeError(f"{name} must be an aware datetime, got {value!r}")
        compiled = self._compiled_for_thread()
        params = list(compiled.params)
        for position, name in compiled.slots.items():
            params[position] = values[name]
        return compiled.sql, params

    def position(self, name: str) -> int:
        """Where an annotation, or a field (attname) of the queryset's model, is among the SELECT's columns."""
        compiler = self._compiled_for_thread().compiler
        annotations = compiler.annotation_col_map or {}
        if name in annotations:
            return int(annotations[name])
        for index in compiler.klass_info["select_fields"]:
            if compiler.select[index][0].target.attname == name:
                return int(index)
        raise KeyError(name)

    def width(self) -> int:
        """How many columns the SELECT has."""
        return len(self._compiled_for_thread().compiler.select)

    def instances(self, rows: Sequence[Sequence[Any]]) -> list[M]:
        """Model instances for rows of the SELECT, as Django's ModelIterable builds them (the database's
        converters, `select_related` objects, annotations as attributes)."""
        compiled = self._compiled_for_thread()
        compiler = compiled.compiler
        db, model = compiler.using, compiler.klass_info["model"]
        if compiled.converters:
            rows = list(compiler.apply_converters(rows, compiled.converters))
        objects = []
        for row in rows:
            obj = model.from_db(db, compiled.init_list, row[compiled.model_columns])
            for populator in compiled.related_populators:
                populator.populate(row, obj)
            for name, position in compiled.annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects

    def _compiled_for_thread(self) -> _Compiled:
        return self._compiled_for(router.db_for_read(self._queryset.model))

    def _compiled_for(self, alias: str) -> _Compiled:
        by_alias: dict[str, _Compiled] = self._local.__dict__.setdefault("by_alias", {})
        compiled = by_alias.get(alias)
        if compiled is None or compiled.compiler.connection is not connections[alias]:
            compiled = by_alias[alias] = self._compile(alias)
        return compiled

    def _compile(self, alias: str) -> _Compiled:
        compiler = self._queryset.query.get_compiler(using=alias)
        with transaction.atomic(using=alias) if self._queryset.query.select_for_update else nullcontext():
            sql, params = compiler.as_sql()
        slots = {
            i: self._placeholders[p]
            for i, p in enumerate(params)
            if isinstance(p, str | int | datetime) and not isinstance(p, bool) and p in self._placeholders
        }
        missing = self._names - set(slots.values())
        if missing:
            raise ValueError(
                f"{sorted(missing)} did not reach the SQL as given (only string look-ups, and integer ones declared "
                "as `ints`, and datetime ones declared as `datetimes` on PostgreSQL, can)"
            )
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        model_columns = slice(fields[0], fields[-1] + 1)
        return _Compiled(
            compiler=compiler,
            sql=sql,
            params=tuple(params),
            slots=slots,
            converters=compiler.get_converters([column[0] for column in select]),
            model_columns=model_columns,
            init_list=[column[0].target.attname for column in select[model_columns]],
            related_populators=get_related_populators(klass_info, select, compiler.using),
            annotations=list((compiler.annotation_col_map or {}).items()),
        )
