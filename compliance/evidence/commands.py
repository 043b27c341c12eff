"""Commands for the evidence files on disk."""

import time
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from compliance.cli_common import fail, settings_or_exit
from compliance.db import get_engine
from compliance.evidence import fsck as checks

evidence_app = typer.Typer(no_args_is_help=True, help="The stored evidence files.")


@evidence_app.command("fsck")
def fsck(
    clean: Annotated[
        bool,
        typer.Option("--clean", help="Remove orphan and temporary files (never a named file)."),
    ] = False,
    grace_minutes: Annotated[
        int,
        typer.Option(
            min=0, help="Leave files younger than this alone: an upload may be in flight."
        ),
    ] = 10,
) -> None:
    """Check the stored files against the evidence rows; exit 1 if anything is wrong."""
    settings = settings_or_exit()
    try:
        with Session(get_engine(settings)) as session:
            report = checks.check(
                session=session,
                data_dir=settings.data_dir,
                now=time.time(),
                grace_minutes=grace_minutes,
            )
            if clean:
                checks.clean(session=session, report=report)
    except DBAPIError as exc:
        first_line = str(exc.orig).strip().splitlines()[0]
        # Not 1: nothing was checked, so nothing was found either way.
        raise fail(f"The evidence rows could not be read: {first_line}", code=2) from exc
    for line in describe(report, grace_minutes=grace_minutes, cleaned=clean):
        typer.echo(line)
    if report.problems:
        raise typer.Exit(1)


def describe(report: checks.FsckReport, *, grace_minutes: int, cleaned: bool) -> list[str]:
    """The report in plain words, a line each."""
    lines = [f"Checked {report.files} stored files against {report.rows} evidence rows."]
    lines += [_damaged(item) for item in report.damaged]
    for path in report.orphans:
        lines.append(_fate(f"Orphan file, named by no evidence: {path}", path, report, cleaned))
    for path in report.temporaries:
        temporary = f"Temporary file left by an interrupted upload: {path}"
        lines.append(_fate(temporary, path, report, cleaned))
    young = f"younger than {grace_minutes} minutes, an upload may be in flight"
    lines += [f"Left alone, {young}: {path}" for path in report.young]
    return lines + [_verdict(report, cleaned)]


def _damaged(item: checks.Damaged) -> str:
    what = "is missing" if item.missing else "no longer matches its SHA-256"
    return f'Evidence {item.evidence_id} "{item.title}": its file {item.sha256[:12]}... {what}.'


def _fate(line: str, path: Path, report: checks.FsckReport, cleaned: bool) -> str:
    if not cleaned:
        return line
    return f"{line} (removed)" if path in report.removed else f"{line} (could not be removed)"


def _verdict(report: checks.FsckReport, cleaned: bool) -> str:
    if not report.problems:
        return "Nothing is wrong." if not report.removed else "Nothing else is wrong."
    advice = []
    if report.damaged:
        advice.append("missing or altered files can only be brought back from a backup")
    if not cleaned and (report.orphans or report.temporaries):
        advice.append("orphan and temporary files are removed by --clean")
    return f"{report.problems} problem(s) remain: {'; '.join(advice) or 'see above'}."
