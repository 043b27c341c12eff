"""Reading the CSV files people upload (registers of bodies, measurements): UTF-8 with or without
a byte-order mark, a header, then records, each numbered by the line it starts on, so that an
all-or-nothing import can name every bad line.

A file is read a line at a time and never held whole as rows: past the most records one import
may hold (COMPLIANCE_MAX_IMPORT_ROWS) the rest are only counted, and the file is refused whole
with that count, however large it is.
"""

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

# A text (tests, mostly), the bytes of an upload, or a binary file opened by the command line.
CsvSource = str | bytes | BinaryIO
# No CSV record of ours comes near this; a longer line is not a CSV file (or is one line of an
# enormous one), and reading it whole is what the limit is for.
MAX_LINE_BYTES = 1 << 20
NOT_UTF8 = "the file is not UTF-8 text (save it as CSV UTF-8)"
# After a carriage return with no line feed: the line ends of old Mac files, as text mode with
# newline="" reads them.
LONE_CR = re.compile(r"(?<=\r)(?!\n)")


@dataclass(frozen=True)
class LineError:
    """A line of an import that cannot be taken, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRefused(Exception):
    """An import was refused; nothing was changed. `whole` says why, when the whole file is
    refused rather than some of its lines (then `errors` may be empty)."""

    def __init__(self, errors: Sequence[LineError], *, whole: str | None = None):
        self.errors = list(errors)
        self.whole = whole
        super().__init__(whole or "\n".join(str(e) for e in self.errors))


def too_many_rows(rows: int, max_rows: int, *, exact: bool = True) -> str:
    """The refusal of a file with more records than one import may hold."""
    has = f"{rows:,}" if exact else f"more than {max_rows:,}"
    return (
        f"The file has {has} rows; at most {max_rows:,} can be imported at once: "
        f"split it into files of {max_rows:,} rows or fewer"
    )


@dataclass
class CsvTable:
    """A file's header (lower-cased; None if there is none to read), its records that are not
    blank with the line each starts on, and what could not be read at all."""

    header: list[str] | None
    records: list[tuple[int, list[str]]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def read_csv(source: CsvSource, expected_header: str, max_rows: int | None = None) -> CsvTable:
    """Read a CSV file a line at a time; a line that cannot be read as CSV ends the reading, as
    an error. A file of more than `max_rows` records raises ImportRefused, naming how many it
    has: beyond the limit records are counted, not kept."""
    reader = csv.reader(text_lines(source))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        empty = f"the file is empty; expected the header {expected_header}"
        return CsvTable(None, errors=[LineError(1, empty)])
    except csv.Error as exc:
        return CsvTable(None, errors=[LineError(1, f"the header cannot be read: {exc}")])
    table = CsvTable(header)
    rows = _read_records(reader, table, max_rows)
    if max_rows is not None and rows > max_rows:
        raise ImportRefused([], whole=too_many_rows(rows, max_rows, exact=not table.errors))
    return table


def _read_records(reader, table: CsvTable, max_rows: int | None) -> int:
    """Keep the records that are not blank, up to `max_rows`; return how many there are."""
    rows = 0
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            table.errors.append(LineError(line, f"cannot be read as CSV: {exc}"))
            return rows
        if any(value.strip() for value in record):
            rows += 1
            if max_rows is None or rows <= max_rows:
                table.records.append((line, record))
        line = reader.line_num + 1


def text_lines(source: CsvSource) -> Iterator[str]:
    """A CSV file's lines as text, one at a time, with their line ends (as csv wants them)."""
    if isinstance(source, str):
        return iter(io.StringIO(source, newline=""))
    return _decoded(io.BytesIO(source) if isinstance(source, bytes) else source)


def _decoded(stream: BinaryIO) -> Iterator[str]:
    """Decode a binary file a line at a time as UTF-8 (the byte-order mark dropped); a line
    that is not UTF-8, or too long to be a record, refuses the file naming it."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            too_long = f"the line is longer than {MAX_LINE_BYTES:,} bytes: is it a CSV file?"
            raise ImportRefused([LineError(number, too_long)])
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportRefused([LineError(number, NOT_UTF8)]) from exc
        yield from (piece for piece in LONE_CR.split(text) if piece)
