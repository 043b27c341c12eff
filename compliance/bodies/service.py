"""Public bodies: look-ups, search, and the all-or-nothing CSV import of a register."""

import datetime as dt
import re
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from compliance.audit.service import record as audit
from compliance.bodies.kinds import KIND_NATIONS, BodyKind, Nation, exists_in
from compliance.csvfiles import CsvSource, ImportRefused, LineError, read_csv
from compliance.dates import year_problem
from compliance.db import count_rows, key_column
from compliance.models import Body, utcnow
from compliance.paging import Keyset

REQUIRED_COLUMNS = ("code", "name", "kind", "nation", "parent_code", "website")
OPTIONAL_COLUMNS = ("email", "start_date", "end_date", "successor_code")
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
GSS_PATTERN = re.compile(r"^([ENWSK])(\d{2})\d{6}$")
NATION_BY_LETTER = {
    "E": Nation.england,
    "W": Nation.wales,
    "S": Nation.scotland,
    "N": Nation.northern_ireland,
}
# ONS GSS entity codes that name one kind of body; a code of another entity is refused.
KIND_BY_GSS_ENTITY = {
    "E06": {BodyKind.unitary_authority},
    "E07": {BodyKind.district_council},
    "E08": {BodyKind.metropolitan_district},
    "E09": {BodyKind.london_borough},
    "E10": {BodyKind.county_council},
    "W06": {BodyKind.unitary_authority},
    "S12": {BodyKind.unitary_authority},
    "N09": {BodyKind.ni_district_council},
    "E23": {BodyKind.police_force, BodyKind.police_and_crime_commissioner},
    "E54": {BodyKind.integrated_care_board},
}
FIELD_LIMITS = {"name": 200, "website": 300}


@dataclass(frozen=True)
class BodyRow:
    line: int
    code: str
    name: str
    kind: str
    nation: str
    parent_code: str | None
    website: str | None
    email: str | None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    successor_code: str | None = None


@dataclass
class ImportReport:
    """What an import did."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    changes: dict[str, dict[str, list]] = field(default_factory=dict)


def get_body(*, session: Session, code: str) -> Body | None:
    """Return one body by its code, or None."""
    return session.exec(select(Body).where(Body.code == code.strip().upper())).first()


# Bodies by name, then code (which no two share): the pages and the API page through them by
# number.
BY_NAME = Keyset((col(Body.name), col(Body.code)))


def search_bodies(
    *,
    session: Session,
    text: str = "",
    kind: str | None = None,
    nation: str | None = None,
    within: frozenset[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Body], int]:
    """Bodies matching a name or code fragment and filters, a page at a time, with the total.

    `within` limits the search to those body ids (a user's scope); None means every body.
    """
    query = select(Body)
    if within is not None:
        query = query.where(col(Body.id).in_(within or {-1}))
    if text.strip():
        pattern = f"%{text.strip().lower()}%"
        query = query.where(
            or_(func.lower(Body.name).like(pattern), func.lower(Body.code).like(pattern))
        )
    if kind:
        query = query.where(Body.kind == kind)
    if nation:
        query = query.where(Body.nation == nation)
    total = count_rows(session, query)
    rows = session.exec(BY_NAME.numbered(query, start=offset, size=limit)).all()
    return list(rows), total


def with_descendants(*, session: Session, roots: set[int]) -> set[int]:
    """The given bodies and every body beneath them (districts under a county, and so on)."""
    children: dict[int, list[int]] = {}
    query = select(key_column(Body), Body.parent_id).where(col(Body.parent_id).is_not(None))
    for child, parent in session.exec(query):
        children.setdefault(parent, []).append(child)  # type: ignore[arg-type]  # the query keeps bodies with a parent

    found: set[int] = set()
    queue = list(roots)
    while queue:
        current = queue.pop()
        if current not in found:
            found.add(current)
            queue.extend(children.get(current, []))
    return found


def parse_bodies_csv(
    source: CsvSource, max_rows: int | None = None
) -> tuple[list[BodyRow], list[LineError]]:
    """Read a bodies register, checking every line; return the rows and every error found (a
    file of more than `max_rows` records is refused whole: ImportRefused)."""
    table = read_csv(source, ",".join(REQUIRED_COLUMNS), max_rows)
    if table.header is None:
        return [], table.errors
    header_errors = _check_header(table.header)
    if header_errors:
        return [], header_errors
    rows: list[BodyRow] = []
    errors: list[LineError] = []
    for line, record in table.records:
        _parse_record(line, table.header, record, rows, errors)
    errors += table.errors + _check_codes_and_parents(rows)
    return rows, sorted(errors, key=lambda e: e.line)


def _check_header(header: list[str]) -> list[LineError]:
    problems = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    if not problems:
        return []
    expected = ",".join(REQUIRED_COLUMNS) + "".join(f"[,{c}]" for c in OPTIONAL_COLUMNS)
    return [LineError(1, "; ".join(problems) + f" (expected header {expected})")]


def _parse_record(
    line: int, header: list[str], record: list[str], rows: list[BodyRow], errors: list[LineError]
) -> None:
    if len(record) != len(header):
        errors.append(
            LineError(
                line,
                f"expected {len(header)} fields, found {len(record)} "
                "(is a name with a comma missing its quotes?)",
            )
        )
        return
    values = infer_from_code({n: v.strip() for n, v in zip(header, record, strict=True)})
    problems = [message for _, message in field_problems(values)]
    dates, date_problems = _lifetime(values)
    problems += date_problems
    if problems:
        errors.append(LineError(line, "; ".join(problems)))
        return
    rows.append(
        BodyRow(
            line=line,
            code=values["code"].upper(),
            name=values["name"],
            kind=values["kind"],
            nation=values["nation"],
            parent_code=values["parent_code"].upper() or None,
            website=normalise_website(values["website"]),
            email=values.get("email") or None,
            **dates,
        )
    )


def _lifetime(values: dict[str, str]) -> tuple[dict, list[str]]:
    """The optional start and end dates and successor of a line, or what is wrong with them."""
    dates: dict = {"successor_code": values.get("successor_code", "").upper() or None}
    problems = []
    for name in ("start_date", "end_date"):
        dates[name], problem = _typed_date(name, values.get(name, ""))
        if problem:
            problems.append(problem)
    start, end = dates.get("start_date"), dates.get("end_date")
    if start and end and end < start:
        problems.append(f"end_date {end} is before start_date {start}")
    if dates["successor_code"] and not end:
        problems.append("successor_code is given without end_date: only a body that ended has one")
    if dates["successor_code"] == values["code"].upper():
        problems.append("a body cannot be its own successor")
    return dates, problems


def _typed_date(name: str, text: str) -> tuple[dt.date | None, str | None]:
    """An optional date column: the date, or what is wrong with it (year 1 is a slip)."""
    if not text:
        return None, None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None, f"{name} {text!r} is not a real date as YYYY-MM-DD"
    problem = year_problem(day)
    return (None, f"{name} {text}: {problem}") if problem else (day, None)


def infer_from_code(values: dict[str, str]) -> dict[str, str]:
    """Fill an empty kind, and an empty nation, from an ONS code that names exactly one (E06
    unitary, E07 district, E08 metropolitan district, E09 London borough, E10 county, W06, S12
    and N09 councils); registers often leave them out. A kind given is kept, and checked."""
    match = GSS_PATTERN.match(values["code"].upper())
    if not match:
        return values
    kinds = KIND_BY_GSS_ENTITY.get(values["code"][:3].upper(), set())
    filled = dict(values)
    if not filled["kind"] and len(kinds) == 1:
        filled["kind"] = next(iter(kinds)).value
    nation = NATION_BY_LETTER.get(match.group(1))
    if not filled["nation"] and nation is not None:
        filled["nation"] = nation.value
    return filled


def normalise_website(value: str) -> str | None:
    """A website as an absolute https address; registers often leave the scheme off."""
    if not value:
        return None
    return value if re.match(r"^https?://", value, re.I) else f"https://{value}"


def field_problems(values: dict[str, str]) -> list[tuple[str, str]]:
    """Every problem with one body's fields, as (field, message): the checks each line of an
    import gets, and so does a body created or changed through the API."""
    problems = []
    code = values["code"].upper()
    if not code:
        problems.append(("code", "code is empty"))
    elif not CODE_PATTERN.match(code):
        problems.append(
            (
                "code",
                f"code {values['code']!r} is not a valid code "
                "(letters, digits and hyphens, 2 to 20 characters)",
            )
        )
    if not values["name"]:
        problems.append(("name", "name is empty"))
    for name, limit in FIELD_LIMITS.items():
        if len(values[name]) > limit:
            problems.append((name, f"{name} is longer than {limit} characters"))
    kind_ok = values["kind"] in BodyKind.__members__
    if not values["kind"]:
        problems.append(
            (
                "kind",
                f"kind is empty: give one of {', '.join(BodyKind)} (it may be "
                "left empty only with an ONS council code: E06-E10, W06, S12, N09)",
            )
        )
    elif not kind_ok:
        problems.append(("kind", f"kind {values['kind']!r} is not one of: {', '.join(BodyKind)}"))
    if values["nation"] not in Nation.__members__:
        problems.append(
            ("nation", f"nation {values['nation']!r} is not one of: {', '.join(Nation)}")
        )
    elif kind_ok and not exists_in(values["kind"], values["nation"]):
        problems.append(
            (
                "kind",
                f"there is no {values['kind'].replace('_', ' ')} in "
                f"{values['nation'].replace('_', ' ').title()}: "
                "kinds of that nation's councils and health bodies are "
                f"{_kinds_of(values['nation'])}",
            )
        )
    elif kind_ok and code:
        problems += [("code", p) for p in _gss_problems(code, values["kind"], values["nation"])]
    website = normalise_website(values["website"])
    if website and not re.match(r"^https?://[^\s/$.?#][^\s]*\.[^\s]+$", website, re.I):
        problems.append(("website", f"website {values['website']!r} is not a web address"))
    elif website and len(website) > FIELD_LIMITS["website"] >= len(values["website"]):
        # Measured as stored: "https://" is added to an address given without its scheme.
        problems.append(("website", f"website is longer than {FIELD_LIMITS['website']} characters"))
    if values.get("email"):
        try:
            validate_email(values["email"], check_deliverability=False)
        except EmailNotValidError as exc:
            problems.append(("email", f"email {values['email']!r} is not valid: {exc}"))
    return problems


def _kinds_of(nation: str) -> str:
    return ", ".join(
        kind for kind, nations in KIND_NATIONS.items() if nation in nations and len(nations) < 4
    )


def _gss_problems(code: str, kind: str, nation: str) -> list[str]:
    match = GSS_PATTERN.match(code)
    if not match:
        return []
    problems = []
    entity = code[:3]
    kinds = KIND_BY_GSS_ENTITY.get(entity)
    if kinds and kind not in kinds:
        problems.append(
            f"code {code} is an ONS {entity} code, which is for "
            f"{' or '.join(sorted(kinds))}, not {kind}"
        )
    expected_nation = NATION_BY_LETTER.get(match.group(1))
    if expected_nation and nation != expected_nation:
        problems.append(f"code {code} is a code in {expected_nation}, not {nation}")
    return problems


def _check_codes_and_parents(rows: list[BodyRow]) -> list[LineError]:
    errors = []
    first_line: dict[str, int] = {}
    for row in rows:
        if row.code in first_line:
            errors.append(
                LineError(
                    row.line, f"code {row.code} already appears on line {first_line[row.code]}"
                )
            )
        else:
            first_line[row.code] = row.line
    for row in rows:
        if row.parent_code == row.code:
            errors.append(LineError(row.line, f"body {row.code} cannot be its own parent"))
    errors += _parent_cycles(rows)
    return errors


def _parent_cycles(rows: list[BodyRow]) -> list[LineError]:
    parent = {
        row.code: row.parent_code for row in rows if row.parent_code and row.parent_code != row.code
    }
    errors = []
    for row in rows:
        seen, code = {row.code}, parent.get(row.code)
        while code is not None and code not in seen:
            seen.add(code)
            code = parent.get(code)
        if code == row.code and row.code in parent:
            errors.append(LineError(row.line, f"parent codes loop back to {row.code}"))
    return errors


def import_bodies(
    *, session: Session, data: CsvSource, actor: str = "cli", max_rows: int | None = None
) -> ImportReport:
    """Import a bodies register, all or nothing: on any bad line, or more than `max_rows`
    records, raise ImportRefused."""
    rows, errors = parse_bodies_csv(data, max_rows=max_rows)
    parents = [row.parent_code for row in rows if row.parent_code]
    known = set(session.exec(select(Body.code).where(col(Body.code).in_(parents))).all())
    in_file = {row.code for row in rows}
    errors += [
        LineError(
            row.line, f"parent_code {row.parent_code} is neither in this file nor in the registry"
        )
        for row in rows
        if row.parent_code and row.parent_code not in in_file and row.parent_code not in known
    ]
    errors += _district_parents(session, rows)
    successors = [row.successor_code for row in rows if row.successor_code]
    known_successors = set(
        session.exec(select(Body.code).where(col(Body.code).in_(successors))).all()
    )
    errors += [
        LineError(
            row.line,
            f"successor_code {row.successor_code} is neither in this file nor in the registry",
        )
        for row in rows
        if row.successor_code
        and row.successor_code not in in_file
        and row.successor_code not in known_successors
    ]
    if errors:
        raise ImportRefused(sorted(errors, key=lambda e: e.line))
    if not rows:
        raise ImportRefused([LineError(2, "the file has a header but no bodies")])
    report = _upsert_rows(session, rows)
    if report.created or report.updated:
        audit(
            session=session,
            actor=actor,
            action="bodies.imported",
            entity_type="body",
            entity_id="import",
            after={"created": report.created, "updated": report.changes},
        )
    return report


def _district_parents(session: Session, rows: list[BodyRow]) -> list[LineError]:
    # In a two-tier area the district sits under its county council; any other parent is a
    # mistake in the register (a unitary, a neighbouring district), and would share the wrong
    # duties and scope.
    parents = {row.parent_code for row in rows if row.parent_code}
    kinds = dict(
        session.exec(select(Body.code, Body.kind).where(col(Body.code).in_(parents))).all()
    )
    kinds |= {row.code: row.kind for row in rows}
    return [
        LineError(
            row.line,
            f"district council {row.code}'s parent {row.parent_code} is a "
            f"{kinds[row.parent_code].replace('_', ' ')}, not a county council",
        )
        for row in rows
        if row.kind == BodyKind.district_council
        and row.parent_code in kinds
        and kinds[row.parent_code] != BodyKind.county_council
    ]


def _upsert_rows(session: Session, rows: list[BodyRow]) -> ImportReport:
    report = ImportReport()
    codes = [row.code for row in rows] + [row.parent_code for row in rows if row.parent_code]
    codes += [row.successor_code for row in rows if row.successor_code]
    bodies = {b.code: b for b in session.exec(select(Body).where(col(Body.code).in_(codes)))}
    for row in rows:
        if row.code not in bodies:
            bodies[row.code] = Body(code=row.code, name=row.name, kind=row.kind, nation=row.nation)
            session.add(bodies[row.code])
            report.created.append(row.code)
    session.flush()
    created = set(report.created)
    for row in rows:
        body = bodies[row.code]
        values = {
            "name": row.name,
            "kind": row.kind,
            "nation": row.nation,
            "website": row.website,
            "parent_id": bodies[row.parent_code].id if row.parent_code else None,
            "start_date": row.start_date,
            "end_date": row.end_date,
            "successor_id": bodies[row.successor_code].id if row.successor_code else None,
        }
        if row.email is not None or body.email is None:
            values["email"] = row.email
        changed = [name for name, value in values.items() if getattr(body, name) != value]
        if changed and row.code not in created:
            report.changes[row.code] = {n: [getattr(body, n), values[n]] for n in changed}
        for name in changed:
            setattr(body, name, values[name])
        if row.code in created:
            continue
        if changed:
            body.updated_at = utcnow()
            report.updated.append(row.code)
        else:
            report.unchanged += 1
    session.flush()
    return report
