"""The `compliance` command line."""

import contextlib
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from sqlmodel import Session, select

from compliance import logs
from compliance.accounts.commands import token_app, user_app, user_by_email
from compliance.audit.commands import audit_app
from compliance.backup.commands import backup, restore
from compliance.cli_common import fail as _fail
from compliance.cli_common import parse_date as _parse_date
from compliance.cli_common import settings_or_exit as _settings
from compliance.config import Settings, get_settings
from compliance.csvfiles import ImportRefused
from compliance.db import get_engine, session_scope
from compliance.evidence.commands import evidence_app

app = typer.Typer(no_args_is_help=True, help="Statutory partnership-duty compliance tracker.")
import_app = typer.Typer(no_args_is_help=True, help="Import registers from CSV files.")
app.add_typer(import_app, name="import")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(evidence_app, name="evidence")
app.add_typer(audit_app, name="audit")
app.command("backup")(backup)
app.command("restore")(restore)


@app.callback()
def _configure_logging() -> None:
    # Every command logs as `serve` and `scheduler` do (compliance/logs.py); with settings that
    # do not validate, the command itself reports them.
    with contextlib.suppress(ValueError):
        logs.configure(get_settings())


def initialise(settings: Settings) -> None:
    """Migrate to head, load the catalogue, bring obligations up to date and judge everything
    again, so that findings stored under earlier rules are brought to the current ones (the
    superseded ones are resolved, never deleted)."""
    from compliance.catalogue.service import CatalogueError, load_catalogue
    from compliance.checks.service import check_now
    from compliance.migrations import MigrationRefused, upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.sqlalchemy_url)
    except MigrationRefused as exc:
        raise _fail(f"The database was not migrated:\n{exc}") from exc
    try:
        with session_scope(get_engine(settings)) as session:
            report = load_catalogue(session=session)
            sync, summary = check_now(
                session=session, settings=settings, on=settings.today(), trigger="init"
            )
            run = summary.run
            found = (run.findings_open, run.findings_new, run.findings_resolved)
    except CatalogueError as exc:
        raise _fail(f"The duty catalogue was not loaded, nothing changed:\n{exc}") from exc
    typer.echo(
        f"Catalogue {report.version}: {len(report.created)} added, {len(report.updated)} updated, "
        f"{len(report.retired)} retired. Obligations: {sync.opened} opened, {sync.reopened} "
        f"reopened, {sync.closed} closed, {sync.occurrences} periods added. Findings: "
        f"{found[0]} open, {found[1]} new, {found[2]} resolved."
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
    if settings.environment == "production":
        # The demo's accounts have a published password: never in a live registry.
        typer.echo(
            "The demo is not loaded in production: its sign-ins, an admin among them, have a "
            "published password. Use COMPLIANCE_ENVIRONMENT=development for a demonstration.",
            err=True,
        )
        raise typer.Exit(2)
    initialise(settings)
    with session_scope(get_engine(settings)) as session:
        summary = load_demo(session=session, settings=settings)
    typer.echo(summary)


@app.command()
def coverage(
    output: Annotated[
        str, typer.Option("-o", "--output", help="The file to write, or - for standard output.")
    ] = "docs/catalogue-coverage.md",
) -> None:
    """Write which duties bind each kind of body in each nation, from the loaded catalogue."""
    from compliance.catalogue.coverage import live_catalogue, render

    with Session(get_engine(_settings())) as session:
        duties, deliverables = live_catalogue(session=session)
        text = render(duties=duties, deliverables=deliverables)
    if not duties:
        raise _fail("No duty catalogue in the database: run `compliance init` first.")
    if output == "-":
        typer.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise _fail(f"Cannot write {output}: {exc.strerror}") from exc
    typer.echo(f"Wrote {output}: {len(duties)} duties, {len(deliverables)} deliverables.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Web processes (default COMPLIANCE_WEB_WORKERS, 1)."),
    ] = None,
    in_process: Annotated[
        bool | None,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Run the scheduled jobs here, or leave them to `compliance scheduler` "
            "(default COMPLIANCE_SCHEDULER_IN_WEB: here, except in production).",
        ),
    ] = None,
) -> None:
    """Serve the web application and the API, in one process or several, with the scheduled
    jobs run once beside them unless they are left to `compliance scheduler`."""
    from compliance.server import serve as run_server

    settings = _settings()
    run_server(
        settings,
        host=host,
        port=port,
        workers=workers or settings.web_workers,
        with_scheduler=settings.scheduler_in_web_on if in_process is None else in_process,
    )


@app.command()
def scheduler() -> None:
    """Run the scheduled jobs in this process until SIGTERM or Ctrl+C, which let the job
    running finish (then serve with --no-scheduler)."""
    from compliance.scheduler import run_until_signalled

    settings = _settings()
    logs.configure(settings)
    typer.echo(f"Scheduler running (tick every {settings.scheduler_tick_seconds} s); Ctrl+C stops.")
    run_until_signalled(get_engine(settings), settings)


@app.command()
def check(
    at: Annotated[str | None, typer.Option(help="Judge as at this date (YYYY-MM-DD).")] = None,
) -> None:
    """Run the compliance rules now (or as at a date) and print a summary."""
    from compliance.checks.rules import SEVERITIES
    from compliance.checks.service import check_now

    settings = _settings()
    on = _parse_date(at) or settings.today()
    engine = get_engine(settings)
    with session_scope(engine) as session:
        _, summary = check_now(session=session, settings=settings, on=on, trigger="cli")
        run = summary.run
        severities = ", ".join(f"{s} {summary.by_severity.get(s, 0)}" for s in SEVERITIES)
        typer.echo(
            f"Check as at {on}: {run.findings_open} open findings ({run.findings_new} new, "
            f"{run.findings_resolved} resolved); {severities}."
        )
        for rule, count in sorted(summary.by_rule.items()):
            typer.echo(f"  {rule}: {count}")
        for error in run.errors:
            typer.echo(f"  error: {error}", err=True)


@app.command()
def synth(
    bodies: Annotated[int, typer.Option(help="How many bodies, in England's mix (at least 15).")],
    evidence_per_obligation: Annotated[
        int, typer.Option(help="Evidence records on each obligation.")
    ] = 4,
    seed: Annotated[int, typer.Option(help="The same seed gives the same registry.")] = 1,
) -> None:
    """Load a synthetic registry for load tests, into a database that has none (after init)."""
    from compliance.errors import Refused
    from compliance.synth.service import synthesise

    settings = _settings()
    try:
        with session_scope(get_engine(settings)) as session:
            summary = synthesise(
                session=session,
                data_dir=settings.data_dir,
                bodies=bodies,
                evidence_per_obligation=evidence_per_obligation,
                seed=seed,
                on=settings.today(),
            )
    except Refused as exc:
        raise _fail(f"Nothing was loaded: {exc.message}") from exc
    typer.echo(summary)


@app.command()
def remind(
    at: Annotated[
        str | None, typer.Option(help="Queue what is due on this date (YYYY-MM-DD).")
    ] = None,
    digest: Annotated[
        bool, typer.Option("--digest", help="Also queue the weekly digests for that week.")
    ] = False,
) -> None:
    """Queue the reminders due on a date (today by default), then send the outbox."""
    from compliance.obligations.service import sync_obligations
    from compliance.outbox import flush_outbox
    from compliance.reminders.digest import queue_digests, week_of
    from compliance.reminders.service import queue_due

    settings = _settings()
    on = _parse_date(at) or settings.today()
    engine = get_engine(settings)
    with session_scope(engine) as session:
        sync_obligations(session=session, on=on)
    with session_scope(engine) as session:
        report = queue_due(session=session, settings=settings, on=on)
    typer.echo(f"Reminders as at {on}: {report}.")
    if digest:
        with session_scope(engine) as session:
            digests = queue_digests(session=session, settings=settings, on=on)
        typer.echo(f"Digests for the week of {week_of(on)}: {digests}.")
    sent = flush_outbox(engine=engine, settings=settings)
    where = f"SMTP relay {settings.smtp_host}" if settings.smtp_host else settings.data_dir / "mail"
    typer.echo(f"Outbox: {sent} (to {where}).")
    for error in sorted(set(sent.errors)):
        typer.echo(f"  {error}", err=True)


@app.command()
def report(
    kind: Annotated[str, typer.Argument(help="body, partnership, duty or area.")],
    key: Annotated[
        str, typer.Argument(help="The body's code, or the partnership's or duty's slug.")
    ],
    as_at: Annotated[
        str | None, typer.Option("--as-at", help="As the data stood on this date (YYYY-MM-DD).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The file to write (default: a name in this folder)."),
    ] = None,
    pack: Annotated[
        bool, typer.Option("--pack", help="Write the evidence pack (ZIP) instead of the PDF.")
    ] = False,
) -> None:
    """Write the audit PDF (or its evidence pack) of a body, partnership, duty or area."""
    import shutil

    from compliance.access import Principal
    from compliance.errors import Refused
    from compliance.models import User
    from compliance.reports.produce import produce, produce_pack
    from compliance.reports.scope import KINDS

    if kind not in KINDS:
        raise _fail(f"{kind!r} is not a kind of report: use one of {', '.join(KINDS)}", code=2)
    settings = _settings()
    on = _parse_date(as_at)
    # The command line reads everything, as an administrator does; it writes nothing but files.
    cli_user = User(email="cli", name="Command line", role="admin")
    principal = Principal(cli_user, frozenset(), frozenset(), frozenset())
    try:
        with Session(get_engine(settings)) as session:
            made = produce(
                session=session,
                settings=settings,
                principal=principal,
                kind=kind,
                key=key,
                as_at=on,
            )
    except Refused as exc:
        raise _fail(f"No report: {exc.message}") from exc
    source = produce_pack(made=made, settings=settings) if pack else made.path
    name = f"audit-report-{made.report.label}-{made.report.as_at.isoformat()}{source.suffix}"
    target = output or Path(name)
    # Under a temporary name, then renamed: a run cut short leaves no partial report at FILE.
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    partial.replace(target)
    how = "from the cache" if made.cached else "rendered"
    typer.echo(f"Wrote {target} ({how}); data fingerprint {made.fingerprint}.")


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="obligations, evidence or findings.")],
    file_format: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The file to write (CSV: standard output if none)."),
    ] = None,
    as_at: Annotated[
        str | None, typer.Option("--as-at", help="Statuses as at this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Export a whole register as CSV or XLSX, read from the database a batch at a time."""
    from compliance.exports.service import FORMATS, KINDS, Selection, write_export

    if kind not in KINDS:
        raise _fail(f"{kind!r} is not a register: use one of {', '.join(KINDS)}", code=2)
    if file_format not in FORMATS:
        raise _fail(f"{file_format!r} is not a format: use csv or xlsx", code=2)
    if file_format == "xlsx" and output is None:
        raise _fail("An XLSX export needs a file to write: give -o FILE.xlsx", code=2)
    settings = _settings()
    # The command line acts as the system: its export holds every row, whoever holds it.
    selection = Selection(
        on=_parse_date(as_at) or settings.today(), due_soon_days=settings.due_soon_days
    )
    try:
        out = output.open("wb") if output else typer.get_binary_stream("stdout")
    except OSError as exc:
        raise _fail(f"Cannot write {output}: {exc.strerror}") from exc
    try:
        with Session(get_engine(settings)) as session:
            rows = write_export(
                session=session, kind=kind, fmt=file_format, selection=selection, out=out
            )
    finally:
        if output:
            out.close()
    typer.echo(f"Exported {rows} {kind} rows to {output or 'standard output'}.", err=not output)


calendar_app = typer.Typer(no_args_is_help=True, help="Secret calendar addresses.")
app.add_typer(calendar_app, name="calendar")


@calendar_app.command("issue")
def calendar_issue(
    user: Annotated[str | None, typer.Option(help="The user's email address.")] = None,
    body: Annotated[str | None, typer.Option(help="The body's code.")] = None,
) -> None:
    """Issue a calendar address for a user's scope or a body; it is shown only this once."""
    from compliance.bodies.service import get_body
    from compliance.calendar.service import calendar_url, issue_token
    from compliance.models import User

    settings = _settings()
    if (user is None) == (body is None):
        raise _fail("Give either --user EMAIL or --body CODE", code=2)
    with session_scope(get_engine(settings)) as session:
        found = (
            session.exec(select(User).where(User.email == user.strip().lower())).first()
            if user
            else get_body(session=session, code=body.strip().upper())  # type: ignore[union-attr]  # one of --user and --body, checked above
        )
        if found is None:
            raise _fail(f"No {'user' if user else 'body'} {user or body}")
        token, row = issue_token(
            session=session,
            actor="cli",
            user_id=found.id if user else None,
            body_id=found.id if body else None,
        )
        typer.echo(f"Calendar {row.id}: {calendar_url(settings=settings, token=token)}")


@calendar_app.command("revoke")
def calendar_revoke(
    token_id: Annotated[int, typer.Argument(help="The calendar's number.")],
) -> None:
    """Stop a calendar address working."""
    from compliance.calendar.service import revoke_token

    with session_scope(get_engine(_settings())) as session:
        if not revoke_token(session=session, actor="cli", token_id=token_id):
            raise _fail(f"No live calendar {token_id}")
    typer.echo(f"Calendar {token_id} revoked.")


def _opened(file: Path) -> BinaryIO:
    """A file to import, open to be read a line at a time: a huge one is refused unread."""
    try:
        return file.open("rb")
    except OSError as exc:
        raise _fail(f"Cannot read {file}: {exc.strerror}") from exc


def _refused(file: Path, refused: ImportRefused) -> typer.Exit:
    if refused.whole:
        return _fail(f"{file}: {refused.whole}; nothing was imported.")
    lines = "\n".join(f"  {error}" for error in refused.errors)
    return _fail(f"{file}: {len(refused.errors)} problem(s); nothing was imported.\n{lines}")


BODIES_HEADER = (
    "code,name,kind,nation,parent_code,website[,email,start_date,end_date,successor_code]"
)


@import_app.command("bodies")
def import_bodies_command(
    file: Annotated[
        Path,
        typer.Argument(help=f"CSV: {BODIES_HEADER}"),
    ],
    track_from: Annotated[
        str | None,
        typer.Option(
            "--track-from",
            metavar="YYYY-MM-DD",
            help="Judge the imported bodies' obligations from this earlier date (a backfill); "
            "by default they are judged from today and earlier periods raise nothing. "
            "Applies to the bodies the file creates or changes.",
        ),
    ] = None,
) -> None:
    """Import a register of bodies, all or nothing; the same file again changes nothing."""
    from compliance.bodies.service import import_bodies
    from compliance.obligations.service import backfill, of_body_codes, sync_obligations

    settings = _settings()
    since = _parse_date(track_from)
    if since is not None and since > settings.today():
        raise _fail(f"--track-from {since} is in the future: give today or an earlier date", code=2)
    try:
        with _opened(file) as data, session_scope(get_engine(settings)) as session:
            report = import_bodies(session=session, data=data, max_rows=settings.max_import_rows)
            imported = of_body_codes(session, report.created + report.updated)
            sync = sync_obligations(session=session, on=settings.today(), holders=imported)
            if since is not None:
                backfill(
                    session=session,
                    track_from=since,
                    until=settings.today(),
                    body_ids=imported.body_ids,
                )
    except ImportRefused as exc:
        raise _refused(file, exc) from exc
    typer.echo(
        f"Imported {file}: {len(report.created)} new, {len(report.updated)} updated, "
        f"{report.unchanged} unchanged; {sync.opened} obligations opened."
    )


@import_app.command("measurements")
def import_measurements_command(
    file: Annotated[Path, typer.Argument(help="CSV: indicator,date,value,source")],
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="Act as this user, in their scope (default: as admin)."),
    ] = None,
) -> None:
    """Import indicator measurements, all or nothing (indicator is the indicator's id)."""
    from compliance.access import principal_for
    from compliance.errors import Refused
    from compliance.outcomes.imports import import_measurements

    settings = _settings()
    try:
        with _opened(file) as data, session_scope(get_engine(settings)) as session:
            user = as_user and user_by_email(session, as_user)
            if user and not user.is_active:
                raise _fail(f"The user {user.email} is deactivated")
            principal = principal_for(session=session, user=user) if user else None
            count = import_measurements(
                session=session,
                data=data,
                principal=principal,
                today=settings.today(),
                max_rows=settings.max_import_rows,
            )
    except ImportRefused as exc:
        raise _refused(file, exc) from exc
    except Refused as exc:
        raise _fail(f"{file}: {exc.message}; nothing was imported.") from exc
    typer.echo(f"Imported {file}: {count} measurement(s) recorded.")


def main() -> None:
    """Entry point of the console script."""
    app(prog_name="compliance")


if __name__ == "__main__":
    main()
