"""Reading the CSV files people upload (registers of bodies, measurements): UTF-8 with or without
a byte-order mark, a header, then records, each numbered by the line it starts on, so that an
all-or-nothing import can name every bad line."""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineError:
    """A line of an import that cannot be taken, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRefused(Exception):
    """An import was refused; nothing was changed."""

    def __init__(self, errors: Sequence[LineError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def decode_csv(data: bytes) -> str:
    """Decode an upload as UTF-8 (with or without a byte-order mark), naming the bad line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRefused(
            [LineError(line, "the file is not UTF-8 text (save it as CSV UTF-8)")]
        ) from exc


def too_many_rows(max_rows: int) -> str:
    return (
        f"the file has more than {max_rows:,} rows; at most {max_rows:,} can be imported at "
        "once (COMPLIANCE_MAX_IMPORT_ROWS): split it into smaller files"
    )


@dataclass
class CsvTable:
    """A file's header (lower-cased; None if there is none to read), its records that are not
    blank with the line each starts on, and what could not be read at all."""

    header: list[str] | None
    records: list[tuple[int, list[str]]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def read_csv(text: str, expected_header: str, max_rows: int | None = None) -> CsvTable:
    """Read a CSV text; a line that cannot be read as CSV ends the reading, as an error, and
    so does a record past `max_rows` (an import that large is refused whole: split it)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        empty = f"the file is empty; expected the header {expected_header}"
        return CsvTable(None, errors=[LineError(1, empty)])
    except csv.Error as exc:
        return CsvTable(None, errors=[LineError(1, f"the header cannot be read: {exc}")])
    table = CsvTable(header)
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            table.errors.append(LineError(line, f"cannot be read as CSV: {exc}"))
            break
        if any(value.strip() for value in record):
            if max_rows is not None and len(table.records) >= max_rows:
                table.errors.append(LineError(line, too_many_rows(max_rows)))
                break
            table.records.append((line, record))
        line = reader.line_num + 1
    return table
