"""Reading GOV.UK-style forms: dates in three boxes, and errors by field."""

import datetime as dt
from collections.abc import Mapping

from compliance.dates import FIRST_YEAR, LAST_YEAR


def posted_text(form: Mapping[str, object], name: str) -> str:
    """A text field as posted, stripped; "" when it is missing or is a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def stored_text(form: Mapping[str, object], name: str) -> str:
    """A text field as posted, stripped, that a database can store: NUL (which PostgreSQL
    refuses and no keyboard types) becomes the replacement character rather than failing."""
    return posted_text(form, name).replace("\x00", "\ufffd")


def date_from_parts(
    form: Mapping[str, object], name: str, *, label: str, required: bool
) -> tuple[dt.date | None, str | None]:
    """A date from NAME-day, NAME-month and NAME-year; or the GOV.UK-style error message."""
    parts = [str(form.get(f"{name}-{part}", "") or "").strip() for part in ("day", "month", "year")]
    if not any(parts):
        return None, (f"Enter the {label}" if required else None)
    if not all(p.isdigit() for p in parts):
        return None, f"The {label} must be a real date, with a day, month and year in numbers"
    day, month, year = (int(p) for p in parts)
    if len(parts[2]) != 4:
        return None, f"The {label} must include a 4-digit year"
    if year < FIRST_YEAR or year > LAST_YEAR:
        return None, f"The year of the {label} must be between {FIRST_YEAR} and {LAST_YEAR}"
    try:
        return dt.date(year, month, day), None
    except ValueError:
        return None, f"The {label} must be a real date"


def date_parts(value: dt.date | None) -> dict[str, str]:
    """A date split back into its three boxes."""
    if value is None:
        return {"day": "", "month": "", "year": ""}
    return {"day": str(value.day), "month": str(value.month), "year": str(value.year)}
