"""What every command shares: the settings, and failing with a message and an exit status."""

import datetime as dt

import typer

from compliance.config import Settings, get_settings
from compliance.dates import year_problem


def settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        typer.echo(f"Configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{value!r} is not a date: give it as YYYY-MM-DD", code=2) from exc
    problem = year_problem(day)
    if problem:
        raise fail(f"{value!r}: {problem}", code=2)
    return day
