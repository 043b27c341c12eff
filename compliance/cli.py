"""The `compliance` command line."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from compliance.config import Settings, get_settings
from compliance.db import get_engine, session_scope

app = typer.Typer(no_args_is_help=True, help="Statutory partnership-duty compliance tracker.")
import_app = typer.Typer(no_args_is_help=True, help="Import registers from CSV files.")
app.add_typer(import_app, name="import")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        typer.echo(f"Configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def initialise(settings: Settings) -> None:
    """Migrate to head, load the catalogue and bring obligations up to date."""
    from compliance.catalogue.service import CatalogueError, load_catalogue
    from compliance.migrations import upgrade
    from compliance.obligations.service import sync_obligations

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    try:
        with session_scope(get_engine(settings)) as session:
            report = load_catalogue(session=session)
            sync = sync_obligations(session=session, on=settings.today())
    except CatalogueError as exc:
        raise _fail(f"The duty catalogue was not loaded, nothing changed:\n{exc}") from exc
    typer.echo(
        f"Catalogue {report.version}: {len(report.created)} added, {len(report.updated)} updated, "
        f"{len(report.retired)} retired. Obligations: {sync.opened} opened, {sync.reopened} "
        f"reopened, {sync.closed} closed, {sync.occurrences} periods added."
    )


@app.command()
def init() -> None:
    """Create or migrate the database and load the duty catalogue (safe to run again)."""
    initialise(_settings())


@app.command()
def demo() -> None:
    """Load the Cornwall and Isles of Scilly demo area (safe to run again)."""
    from compliance.demo.service import load_demo

    settings = _settings()
    initialise(settings)
    with session_scope(get_engine(settings)) as session:
        summary = load_demo(session=session, settings=settings)
    typer.echo(summary)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web application and the API."""
    import uvicorn

    from compliance.main import create_app

    uvicorn.run(create_app(_settings()), host=host, port=port)


@import_app.command("bodies")
def import_bodies_command(
    file: Annotated[
        Path, typer.Argument(help="CSV: code,name,kind,nation,parent_code,website[,email]")
    ],
) -> None:
    """Import a register of bodies, all or nothing; the same file again changes nothing."""
    from compliance.bodies.service import ImportRefused, import_bodies
    from compliance.obligations.service import sync_obligations

    settings = _settings()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"Cannot read {file}: {exc.strerror}") from exc
    try:
        with session_scope(get_engine(settings)) as session:
            report = import_bodies(session=session, data=data)
            sync = sync_obligations(session=session, on=settings.today())
    except ImportRefused as exc:
        lines = "\n".join(f"  {error}" for error in exc.errors)
        raise _fail(
            f"{file}: {len(exc.errors)} problem(s); nothing was imported.\n{lines}"
        ) from exc
    typer.echo(
        f"Imported {file}: {len(report.created)} new, {len(report.updated)} updated, "
        f"{report.unchanged} unchanged; {sync.opened} obligations opened."
    )


def main() -> None:
    """Entry point of the console script."""
    app(prog_name="compliance")


if __name__ == "__main__":
    sys.exit(main())
