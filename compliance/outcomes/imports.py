"""The all-or-nothing CSV import of indicator measurements: `indicator,date,value,source`.

Every line is read and checked before anything is written; one bad line refuses the whole file,
listing every bad line, in the same form as the import of bodies.
"""

import datetime as dt
import re
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlmodel import Session, col, select

from compliance.access import Principal
from compliance.csvfiles import CsvSource, ImportRefused, LineError, read_csv
from compliance.dates import record_problem
from compliance.models import Indicator, Measurement, Outcome
from compliance.outcomes.service import MeasurementCreate, add_measurement, outcome_access

COLUMNS = ("indicator", "date", "value", "source")
EXPECTED = ",".join(COLUMNS)
ID_PATTERN = re.compile(r"[0-9]{1,9}")
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NUMBER_PATTERN = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
FIELD_NAMES = {"indicator_id": "indicator", "measured_date": "date"}


@dataclass(frozen=True)
class MeasurementRow:
    line: int
    data: MeasurementCreate


def import_measurements(
    *,
    session: Session,
    data: CsvSource,
    principal: Principal | None,
    today: dt.date,
    max_rows: int | None = None,
) -> int:
    """Import measurements, all or nothing, and return how many were recorded; on any bad line
    raise ImportRefused listing every one, and on a file of more than `max_rows` records refuse
    it whole. `principal` None is the system (the command line), which may record measurements
    of every indicator; a user may record only within scope. No date may be after `today`."""
    rows, errors = parse_measurements_csv(data, today=today, max_rows=max_rows)
    errors += _check_against_database(session, rows, principal)
    if errors:
        raise ImportRefused(sorted(errors, key=lambda e: e.line))
    actor = principal.user if principal is not None else "cli"
    # A clash with a measurement recorded meanwhile undoes the rows before it, not the caller's
    # other work: the file goes in whole or not at all.
    with session.begin_nested():
        for row in rows:
            add_measurement(session=session, actor=actor, data=row.data, today=today)
    return len(rows)


def parse_measurements_csv(
    source: CsvSource, *, today: dt.date, max_rows: int | None = None
) -> tuple[list[MeasurementRow], list[LineError]]:
    """Read a measurements file, checking every line; return the rows and every error found."""
    table = read_csv(source, EXPECTED, max_rows)
    if table.header is None:
        return [], table.errors
    header = table.header
    if sorted(header) != sorted(COLUMNS):
        shown = ",".join(header)[:80]
        return [], [LineError(1, f"the header is {shown!r}; expected the header {EXPECTED}")]
    rows: list[MeasurementRow] = []
    errors: list[LineError] = []
    for line, record in table.records:
        _parse_record(line, header, record, rows, errors, today)
    return rows, errors + table.errors + _repeats_in_file(rows)


def _parse_record(
    line: int,
    header: list[str],
    record: list[str],
    rows: list[MeasurementRow],
    errors: list[LineError],
    today: dt.date,
) -> None:
    if len(record) != len(header):
        errors.append(
            LineError(
                line,
                f"expected {len(header)} fields, found {len(record)} "
                "(is a source with a comma missing its quotes?)",
            )
        )
        return
    values = {name: value.strip() for name, value in zip(header, record, strict=True)}
    problems = _field_problems(values, today)
    if not problems:
        try:
            data = MeasurementCreate(
                indicator_id=int(values["indicator"]),
                measured_date=dt.date.fromisoformat(values["date"]),
                value=float(values["value"]),
                source=values["source"],
            )
            rows.append(MeasurementRow(line, data))
            return
        except ValidationError as exc:
            problems = [_message(error) for error in exc.errors()]
    errors.append(LineError(line, "; ".join(problems)))


def _field_problems(values: dict[str, str], today: dt.date) -> list[str]:
    problems = []
    if not ID_PATTERN.fullmatch(values["indicator"]):
        problems.append(f"indicator {values['indicator']!r} is not an indicator id (a number)")
    problems += _date_problems(values["date"], today)
    if not NUMBER_PATTERN.fullmatch(values["value"]):
        problems.append(
            f"value {values['value']!r} is not a number "
            "(use a point for decimals, and no thousands separators or units)"
        )
    if not values["source"]:
        problems.append("source is empty: say where the figure comes from")
    return problems


def _date_problems(text: str, today: dt.date) -> list[str]:
    if not DATE_PATTERN.fullmatch(text):
        return [f"date {text!r} is not a date written as YYYY-MM-DD"]
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return [f"date {text} is not a real date"]
    problem = record_problem(day, today=today)
    return [f"date: {problem} ({text})"] if problem else []


def _message(error: ErrorDetails) -> str:
    field = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{FIELD_NAMES.get(field, field)}: {message}" if field else message


def _repeats_in_file(rows: list[MeasurementRow]) -> list[LineError]:
    errors = []
    first_line: dict[tuple[int, dt.date], int] = {}
    for row in rows:
        key = (row.data.indicator_id, row.data.measured_date)
        if key in first_line:
            errors.append(
                LineError(
                    row.line,
                    f"indicator {key[0]} has a value for {key[1]} already on line "
                    f"{first_line[key]}",
                )
            )
        else:
            first_line[key] = row.line
    return errors


def _check_against_database(
    session: Session, rows: list[MeasurementRow], principal: Principal | None
) -> list[LineError]:
    """Unknown indicators, indicators outside the user's scope, dates already recorded."""
    ids = {row.data.indicator_id for row in rows}
    if not ids:
        return []
    refusals = _refusals(session, ids, principal)
    recorded = set(
        session.exec(
            select(col(Measurement.indicator_id), col(Measurement.measured_date)).where(
                col(Measurement.indicator_id).in_(ids)
            )
        ).all()
    )
    errors = []
    for row in rows:
        indicator, day = row.data.indicator_id, row.data.measured_date
        if refusals[indicator]:
            errors.append(LineError(row.line, refusals[indicator]))
        elif (indicator, day) in recorded:
            errors.append(
                LineError(row.line, f"indicator {indicator} already has a measurement for {day}")
            )
    return errors


def _refusals(session: Session, ids: set[int], principal: Principal | None) -> dict[int, str]:
    """Why this user may not record each indicator's measurements ("" where they may)."""
    outcomes = {
        indicator.id: outcome
        for indicator, outcome in session.exec(
            select(Indicator, Outcome)
            .join(Outcome, col(Outcome.id) == Indicator.outcome_id)
            .where(col(Indicator.id).in_(ids))
        )
    }
    verdicts = {}
    for indicator_id in ids:
        outcome = outcomes.get(indicator_id)
        if outcome is None:
            verdicts[indicator_id] = f"there is no indicator {indicator_id}"
        elif principal is None:
            verdicts[indicator_id] = ""
        else:
            _, writes = outcome_access(session=session, principal=principal, outcome=outcome)
            verdicts[indicator_id] = (
                ""
                if writes
                else f"indicator {indicator_id} is outside your scope: you cannot "
                "record its measurements"
            )
    return verdicts
