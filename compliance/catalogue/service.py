"""Load the versioned duty catalogue from seed_data/ into the database, in place."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from compliance.audit.service import record as audit
from compliance.bodies.kinds import expand_kinds
from compliance.catalogue.schema import (
    ConditionSpec,
    DeliverableSpec,
    DutyFile,
    DutySpec,
    FundingFile,
    FundingStreamSpec,
)
from compliance.models import Deliverable, Duty, FundingCondition, FundingStream, utcnow

CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "seed_data" / "catalogue"

Spec = TypeVar("Spec", bound=BaseModel)


class CatalogueError(Exception):
    """A catalogue file is missing, unreadable or fails its schema."""


@dataclass
class LoadReport:
    """What a catalogue load changed."""

    version: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.retired)


# libyaml's parser, which PyYAML's wheels carry, reads the same documents ten times faster (the
# catalogue in 20 ms, not 270 ms); the pure-Python safe loader where it is missing.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """A YAML document as the safe loader reads it: plain data, no Python objects."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader, C or Python)


def read_spec(path: Path, model: type[Spec]) -> Spec:
    """Parse and validate one catalogue file, naming file, entry and field on failure."""
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: cannot be read as YAML: {exc}") from exc
    try:
        spec = model.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe_error(raw, error) for error in exc.errors()]
        raise CatalogueError(f"{path}: " + "; ".join(problems)) from exc
    _refuse_duplicate_slugs(path, spec)
    return spec


def _describe_error(raw: Any, error: Mapping[str, Any]) -> str:

    location = list(error["loc"])
    entry = ""
    if len(location) >= 2 and isinstance(location[1], int):
        item = raw[location[0]][location[1]] if isinstance(raw, dict) else None
        slug = item.get("slug") if isinstance(item, dict) else None
        entry = f"entry {location[1] + 1}" + (f" ({slug})" if slug else "") + ", "
        location = location[2:]
    field_name = ".".join(str(part) for part in location) or "(top level)"
    return f"{entry}field {field_name}: {error['msg']}"


def _refuse_duplicate_slugs(path: Path, spec: BaseModel) -> None:
    entries = getattr(spec, "duties", None) or getattr(spec, "funding_streams", [])
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        if entry.slug in seen:
            raise CatalogueError(f"{path}: entry {number} ({entry.slug}), field slug: duplicate")
        seen.add(entry.slug)


def load_catalogue(
    *, session: Session, directory: Path = CATALOGUE_DIR, actor: str = "system"
) -> LoadReport:
    """Validate both catalogue files, then bring the database in line with them."""
    duties = read_spec(directory / "duties.yaml", DutyFile)
    funding = read_spec(directory / "funding.yaml", FundingFile)
    report = LoadReport(version=duties.catalogue_version)
    _load_duties(session, duties, report)
    _load_funding(session, funding, report)
    session.flush()
    if report.changed:
        after = {"created": report.created, "updated": report.updated, "retired": report.retired}
        audit(
            session=session,
            actor=actor,
            action="catalogue.loaded",
            entity_type="catalogue",
            entity_id=report.version,
            after=after,
        )
    return report


def _apply(row: Any, values: dict[str, Any]) -> bool:
    """Set the values that differ; tell whether any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _upsert(
    session: Session,
    existing: dict[str, Any],
    key: str,
    model: type,
    values: dict[str, Any],
    label: str,
    report: LoadReport,
) -> Any:
    row = existing.get(key)
    if row is None:
        row = model(**values)
        session.add(row)
        report.created.append(label)
    elif _apply(row, values):
        if hasattr(row, "updated_at"):
            row.updated_at = utcnow()
        report.updated.append(label)
    return row


def _retire(
    rows: dict[str, Any], keep: set[str], version: str, prefix: str, report: LoadReport
) -> None:
    for key, row in rows.items():
        if key not in keep and row.retired_in_version is None:
            row.retired_in_version = version
            report.retired.append(f"{prefix}{key}")


def _load_duties(session: Session, spec: DutyFile, report: LoadReport) -> None:
    version = spec.catalogue_version
    existing = {duty.slug: duty for duty in session.exec(select(Duty))}
    for duty_spec in spec.duties:
        values = _duty_values(duty_spec, version)
        duty = _upsert(
            session, existing, duty_spec.slug, Duty, values, f"duty {duty_spec.slug}", report
        )
        session.flush()
        _load_deliverables(session, duty, duty_spec, version, report)
    _retire(existing, {d.slug for d in spec.duties}, version, "duty ", report)


def _load_deliverables(
    session: Session, duty: Duty, spec: DutySpec, version: str, report: LoadReport
) -> None:
    existing = {
        d.slug: d for d in session.exec(select(Deliverable).where(Deliverable.duty_id == duty.id))
    }
    for item in spec.deliverables:
        values = {"duty_id": duty.id, **_deliverable_values(item)}
        label = f"deliverable {spec.slug}/{item.slug}"
        _upsert(session, existing, item.slug, Deliverable, values, label, report)
    _retire(
        existing, {d.slug for d in spec.deliverables}, version, f"deliverable {spec.slug}/", report
    )


def _load_funding(session: Session, spec: FundingFile, report: LoadReport) -> None:
    version = spec.catalogue_version
    existing = {stream.slug: stream for stream in session.exec(select(FundingStream))}
    for stream_spec in spec.funding_streams:
        values = _stream_values(stream_spec, version)
        label = f"funding stream {stream_spec.slug}"
        stream = _upsert(session, existing, stream_spec.slug, FundingStream, values, label, report)
        session.flush()
        _load_conditions(session, stream, stream_spec, version, report)
    _retire(existing, {s.slug for s in spec.funding_streams}, version, "funding stream ", report)


def _load_conditions(
    session: Session,
    stream: FundingStream,
    spec: FundingStreamSpec,
    version: str,
    report: LoadReport,
) -> None:
    existing = {
        c.slug: c
        for c in session.exec(
            select(FundingCondition).where(FundingCondition.stream_id == stream.id)
        )
    }
    for item in spec.conditions:
        values = {"stream_id": stream.id, **_condition_values(item)}
        label = f"condition {spec.slug}/{item.slug}"
        _upsert(session, existing, item.slug, FundingCondition, values, label, report)
    _retire(existing, {c.slug for c in spec.conditions}, version, f"condition {spec.slug}/", report)


def _kinds(names: list[str]) -> list[str]:
    return sorted(expand_kinds(names))


def _duty_values(spec: DutySpec, version: str) -> dict[str, Any]:
    return {
        "slug": spec.slug,
        "title": spec.title,
        "act": spec.act,
        "sections": spec.sections,
        "url": str(spec.url),
        "jurisdiction": [str(nation) for nation in spec.jurisdiction],
        "holder_kinds": _kinds(spec.holders),
        "holders_note": spec.holders_note,
        "partner_kinds": _kinds(spec.partners),
        "partners_note": spec.partners_note,
        "required_members": [_kinds(group) for group in spec.required_members],
        "summary": spec.summary.strip(),
        "typical_evidence": list(spec.typical_evidence),
        "inspection": spec.inspection,
        "notes": spec.notes,
        "verified": spec.verified,
        "unverified_note": spec.unverified_note,
        "catalogue_version": version,
        "retired_in_version": None,
    }


def _due_values(spec: DeliverableSpec | ConditionSpec) -> dict[str, Any]:
    return {
        "cadence": str(spec.cadence),
        "due_relative_to": spec.due.relative_to,
        "due_offset_days": spec.due.offset_days,
        "due_date": spec.due_date,
        "evidence": list(spec.evidence),
        "verified": spec.verified,
        "retired_in_version": None,
    }


def _deliverable_values(spec: DeliverableSpec) -> dict[str, Any]:
    return {
        "slug": spec.slug,
        "title": spec.title,
        "interval_years": spec.interval_years,
        "year_start": spec.year_start,
        "held_by": spec.held_by,
        "holder_kinds": _kinds(spec.holders),
        "due_note": spec.due_note,
        "due_set_by": spec.due_set_by,
        **_due_values(spec),
    }


def _condition_values(spec: ConditionSpec) -> dict[str, Any]:
    return {
        "slug": spec.slug,
        "title": spec.title,
        "description": spec.description.strip(),
        **_due_values(spec),
    }


def _stream_values(spec: FundingStreamSpec, version: str) -> dict[str, Any]:
    return {
        "slug": spec.slug,
        "name": spec.name,
        "period_start_date": spec.period_start,
        "period_end_date": spec.period_end,
        "legal_basis": spec.legal_basis,
        "url": str(spec.url),
        "summary": spec.summary.strip(),
        "applicant_kinds": _kinds(spec.applicants),
        "verified": spec.verified,
        "unverified_note": spec.unverified_note,
        "catalogue_version": version,
        "retired_in_version": None,
    }


def list_duties(*, session: Session, include_retired: bool = False) -> list[Duty]:
    """Return the catalogue's duties, by Act then section."""
    query = select(Duty).order_by(Duty.act, Duty.slug)
    if not include_retired:
        query = query.where(col(Duty.retired_in_version).is_(None))
    return list(session.exec(query))


def get_duty(*, session: Session, slug: str) -> Duty | None:
    """Return one duty by its slug, or None."""
    return session.exec(select(Duty).where(Duty.slug == slug)).first()


def deliverables_of(*, session: Session, duty_id: int) -> list[Deliverable]:
    """Return a duty's current deliverables."""
    query = select(Deliverable).where(
        col(Deliverable.duty_id) == duty_id, col(Deliverable.retired_in_version).is_(None)
    )
    return list(session.exec(query.order_by(col(Deliverable.id))))


def deliverables_by_duty(*, session: Session) -> dict[int, list[Deliverable]]:
    """Every current deliverable, by the id of its duty."""
    query = select(Deliverable).where(col(Deliverable.retired_in_version).is_(None))
    found: dict[int, list[Deliverable]] = {}
    for deliverable in session.exec(query.order_by(col(Deliverable.id))):
        found.setdefault(deliverable.duty_id, []).append(deliverable)
    return found
