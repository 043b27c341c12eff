"""The `backup` and `restore` commands."""

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from compliance.backup import service
from compliance.cli_common import fail, settings_or_exit


def backup(
    directory: Annotated[Path, typer.Argument(help="A new (or empty) folder for the backup.")],
) -> None:
    """Back up the database and the evidence files, with a manifest of their SHA-256 hashes."""
    try:
        manifest = service.backup(settings=settings_or_exit(), target=directory)
    except service.BackupError as exc:
        raise _refused("No backup was made", exc.problems) from exc
    except (DBAPIError, OSError) as exc:
        raise _refused("No backup was made", [_reason(exc)]) from exc
    typer.echo(
        f"Backed up the {service.BACKEND_NAMES[manifest.backend]} database (schema "
        f"{manifest.alembic_revision}) and {len(manifest.evidence)} evidence files to {directory}."
    )
    if manifest.not_backed_up:
        missed = len(manifest.not_backed_up)
        typer.echo(f"{missed} evidence file(s) could not be backed up:", err=True)
        for line in manifest.not_backed_up:
            typer.echo(f"  {line}", err=True)
        typer.echo("Run `compliance evidence fsck` to see which evidence they belong to.", err=True)


def restore(
    directory: Annotated[Path, typer.Argument(help="A folder written by `compliance backup`.")],
) -> None:
    """Restore a backup into an empty database and data folder, after checking every hash."""
    try:
        done = service.restore(settings=settings_or_exit(), source=directory)
    except service.RestoreIncomplete as exc:
        raise _refused("The restore did not finish", exc.problems) from exc
    except service.BackupError as exc:
        raise _refused("Nothing was restored", exc.problems) from exc
    except (DBAPIError, OSError) as exc:
        raise _refused("The restore failed", [_reason(exc)]) from exc
    manifest = done.manifest
    typer.echo(
        f"Restored the backup of {manifest.created_at:%Y-%m-%d %H:%M} UTC: {done.evidence_rows} "
        f"evidence rows, {done.files} evidence files and {done.audit_events} audit events."
    )
    for line in manifest.not_backed_up:
        typer.echo(f"  Not in this backup: {line}", err=True)
    if done.needs_migration:
        typer.echo("Its schema is older than this version's: run `compliance init` to migrate it.")
    typer.echo("Now run `compliance audit verify` and `compliance evidence fsck` to check it.")


def _reason(exc: DBAPIError | OSError) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename or 'a file'}: {exc.strerror or exc}"
    first_line = str(exc.orig).strip().splitlines()[0]
    return f"the database could not be read or written: {first_line}"


def _refused(headline: str, problems: list[str]) -> typer.Exit:
    lines = "\n".join(f"  {problem}" for problem in problems)
    return fail(f"{headline}:\n{lines}")
