"""Training data read as typed columns: CSV through the standard library, parquet through pyarrow.

Each column's cells become the values a client would send for them in JSON, so they are counted
as the router would count them:

- CSV cells are text; a column is typed by all its non-empty cells: integers when every one is an
  integer literal, numbers when every one parses as a number, booleans when every one is
  true/false (any case), text otherwise. Empty cells, and NaN in a numeric column, are missing.
- parquet columns keep their types: integers, floats (and decimals) as numbers, booleans, strings;
  nulls and NaN are missing; dates, times and other scalars become their text; nested values
  (lists, structs, maps) are skipped, as the router skips them in an instance.

Missing cells are None here; the caller decides whether they are skipped or sent as JSON null.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.errors import SpecError

__all__ = ["Scalar", "Table", "read_table"]

Scalar = float | int | str | bool | None

_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "false": False}
_PARQUET_HINT = "reading parquet needs pyarrow: pip install 'modelrollout[parquet]'"


@dataclass(frozen=True)
class Table:
    """Columns in file order, each a list of one value per row (None where the cell is missing)."""

    columns: dict[str, list[Scalar]]
    rows: int
    # Columns whose values no instance can carry (nested), left out of `columns`.
    skipped: tuple[str, ...] = ()


def read_table(path: Path) -> Table:
    """`path` read by its suffix (.csv, .parquet or .pq); any problem is a SpecError naming the file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise SpecError(str(path), f"has suffix {suffix or '(none)'!r}; expected a .csv or .parquet file")
    if not path.is_file():
        raise SpecError(str(path), "no such file")
    table = _read_csv(path) if suffix == ".csv" else _read_parquet(path)
    if table.rows == 0:
        raise SpecError(str(path), "holds no rows of data; expected a header and at least one row")
    return table


def _read_csv(path: Path) -> Table:
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            lines = [row for row in csv.reader(file) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SpecError(str(path), f"cannot be read as CSV: {exc}") from exc
    if not lines:
        raise SpecError(str(path), "is empty; expected a header row naming the columns")
    header, rows = lines[0], lines[1:]
    _check_header(path, header)
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise SpecError(f"{path}: row {number}", f"has {len(row)} cells; the header names {len(header)} columns")
    return Table({name: _typed([row[i] for row in rows]) for i, name in enumerate(header)}, len(rows))


def _check_header(path: Path, header: Sequence[str]) -> None:
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise SpecError(str(path), f"names the columns {repeated} more than once; expected each column once")
    if any(not name for name in header):
        raise SpecError(str(path), "has a column with an empty name in its header; expected every column named")


def _typed(cells: list[str]) -> list[Scalar]:
    """A CSV column as the values JSON would carry (see the module doc)."""
    present = [cell.strip() for cell in cells if cell.strip()]
    if all(_INTEGER.fullmatch(cell) for cell in present):
        return [int(cell) if cell.strip() else None for cell in cells]
    if all(_is_number(cell) for cell in present):
        return [_number_or_none(cell) for cell in cells]
    if all(cell.lower() in _BOOLEANS for cell in present):
        return [_BOOLEANS[cell.strip().lower()] if cell.strip() else None for cell in cells]
    return [cell if cell.strip() else None for cell in cells]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number_or_none(cell: str) -> float | None:
    if not cell.strip():
        return None
    value = float(cell)
    return None if math.isnan(value) else value


def _read_parquet(path: Path) -> Table:
    try:
        import pyarrow  # noqa: F401  (the parquet extra; checked here so the message can name it)
        import pyarrow.parquet as parquet
    except ImportError as exc:
        raise SpecError(str(path), _PARQUET_HINT) from exc
    try:
        data = parquet.read_table(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid and ArrowIOError derive from these
        raise SpecError(str(path), f"cannot be read as parquet: {exc}") from exc
    _check_header(path, data.column_names)
    columns: dict[str, list[Scalar]] = {}
    skipped: list[str] = []
    for name, column in zip(data.column_names, data.columns):
        convert = _converter(column.type)
        if convert is None:
            skipped.append(name)
            continue
        columns[name] = [None if value is None else convert(value) for value in column.to_pylist()]
    return Table(columns, data.num_rows, tuple(skipped))


def _converter(kind: Any) -> Callable[[Any], Scalar] | None:
    """How one parquet type's Python values become JSON scalars; None for nested types, which are skipped."""
    import pyarrow.types as types

    if types.is_dictionary(kind):
        return _converter(kind.value_type)
    if types.is_nested(kind):
        return None
    if types.is_boolean(kind):
        return bool
    if types.is_integer(kind):
        return int
    if types.is_floating(kind) or types.is_decimal(kind):
        return _float_or_none
    if types.is_string(kind) or types.is_large_string(kind):
        return str
    return lambda value: value.isoformat() if hasattr(value, "isoformat") else str(value)


def _float_or_none(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number
