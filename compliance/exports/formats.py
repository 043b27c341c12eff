"""CSV and XLSX renderings of an export, written a batch of rows at a time.

Both are made safe to open in a spreadsheet: a text cell starting with = + - @ (or a tab or
carriage return) would run as a formula ("CSV injection"), so CSV prefixes it with a single quote
and XLSX stores every text cell as a string, never as a formula.
"""

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import xlsxwriter

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel's limit per sheet, the header included; an export that is longer continues on a new sheet.
XLSX_MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class Column:
    """A column of an export: its heading, what it holds (text, number, date, datetime or
    boolean) and how wide a spreadsheet shows it."""

    name: str
    kind: str = "text"
    width: int = 16


def csv_cell(value: Any) -> str:
    """A value as CSV text: ISO dates, true/false, and formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, dt.date | int | float):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text with CRLF line ends, every cell through csv_cell: the one writer of
    every CSV a person downloads (exports, the evidence pack's manifest)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def csv_chunks(columns: list[Column], batches: Iterable[list[tuple]]) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (so that Excel reads it as UTF-8), CRLF line ends and a
    header row; one chunk per batch of rows."""
    yield ("\ufeff" + csv_lines([[c.name for c in columns]])).encode()
    for rows in batches:
        yield csv_lines(rows).encode()


class _Sheets:
    """Worksheets of one register, each with a bold, frozen header row and set column widths."""

    def __init__(self, workbook: Any, name: str, columns: list[Column]) -> None:
        self.workbook, self.name, self.columns = workbook, name, columns
        self.bold = workbook.add_format({"bold": True})
        self.formats = {
            "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        }
        self.count = 0
        self.sheet: Any = None
        self.row = XLSX_MAX_ROWS

    def append(self, values: tuple) -> None:
        if self.row >= XLSX_MAX_ROWS - 1:
            self._next_sheet()
        self.row += 1
        for column, value in enumerate(values):
            self._write(column, value)

    def close(self) -> None:
        if self.sheet is None:
            self._next_sheet()
        self.sheet.autofilter(0, 0, self.row, len(self.columns) - 1)

    def _next_sheet(self) -> None:
        if self.sheet is not None:
            self.sheet.autofilter(0, 0, self.row, len(self.columns) - 1)
        self.count += 1
        title = self.name if self.count == 1 else f"{self.name} ({self.count})"
        self.sheet = self.workbook.add_worksheet(title)
        for index, column in enumerate(self.columns):
            self.sheet.set_column(index, index, column.width)
        self.sheet.freeze_panes(1, 0)
        self.sheet.write_row(0, 0, [c.name for c in self.columns], self.bold)
        self.row = 0

    def _write(self, column: int, value: Any) -> None:
        sheet, row = self.sheet, self.row
        if value is None:
            return
        if isinstance(value, bool):
            sheet.write_boolean(row, column, value)
        elif isinstance(value, dt.datetime):
            naive = value.astimezone(dt.UTC).replace(tzinfo=None)
            sheet.write_datetime(row, column, naive, self.formats["datetime"])
        elif isinstance(value, dt.date):
            sheet.write_datetime(row, column, value, self.formats["date"])
        elif isinstance(value, int | float):
            sheet.write_number(row, column, value)
        else:
            sheet.write_string(row, column, str(value))


def write_xlsx(
    target: str | IO[bytes], name: str, columns: list[Column], batches: Iterable[list[tuple]]
) -> int:
    """Write rows to an XLSX workbook in XlsxWriter's constant-memory mode (each row goes to
    disk as the next begins); return how many rows were written."""
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheets = _Sheets(workbook, name, columns)
    written = 0
    try:
        for rows in batches:
            for values in rows:
                sheets.append(values)
                written += 1
        sheets.close()
    finally:
        workbook.close()
    return written
