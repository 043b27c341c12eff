"""Commands for the audit trail: verify it, and re-key it after the secret key changes."""

import sys
from typing import Annotated

import typer
from sqlmodel import Session

from compliance.audit import checkpoint
from compliance.audit.service import (
    Break,
    ChainBroken,
    chain_key,
    head,
    hold_appends,
    rekey,
    verify,
)
from compliance.cli_common import fail, settings_or_exit
from compliance.db import get_engine, session_scope

audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit chain under this installation's key and compare its head with the signed
    checkpoint in the data folder; exit 1 naming the first event that does not hold, or the
    events missing from the end."""
    settings = settings_or_exit()
    try:
        had = checkpoint.read(settings.data_dir)
    except checkpoint.BadCheckpoint:
        had = None  # named by `checkpoint.problems` below
    with Session(get_engine(settings)) as session:
        # The checkpoint before the chain: on SQLite, what this reading transaction sees then
        # holds every event committed before the checkpoint was last written.
        missing = checkpoint.problems(session=session, data_dir=settings.data_dir)
        count, broken = verify(session=session)
        said = [_broken(count, broken, session)] if broken else []
        latest = head(session)
    if missing:
        said.append("Audit trail incomplete: " + "; ".join(missing) + ".")
    if said:
        raise fail("\n".join(said))
    if latest is not None:
        checkpoint.write(settings.data_dir, *latest)
    if had is None and latest is not None:
        typer.echo(
            f"Warning: no checkpoint was found in {settings.data_dir}, though the trail holds "
            f"events: one is written now at event {latest[0]}. Events deleted from the end "
            "before now cannot be detected."
        )
    typer.echo(f"Audit chain intact: {count} events.")


def _broken(count: int, broken: Break, session: Session) -> str:
    said = (
        f"Audit chain broken at event {broken.event_id}: {broken.reason} "
        f"({count} events before it hold)."
    )
    unkeyed_count, unkeyed_break = verify(session=session, unkeyed=True)
    if unkeyed_count <= count:
        return said
    # Upgrade 0013 leaves a chain hashed without a key as it was when it did not verify then.
    said += " Read as a chain from before upgrade 0013 (hashed without a key), it "
    if unkeyed_break is None:
        return said + "holds: run `compliance audit rekey --from-unkeyed`."
    return said + f"breaks at event {unkeyed_break.event_id}: {unkeyed_break.reason}."


@audit_app.command("rekey")
def audit_rekey(
    from_unkeyed: Annotated[
        bool,
        typer.Option(
            "--from-unkeyed",
            help="The chain was hashed without a key (before upgrade 0013 could re-key it).",
        ),
    ] = False,
) -> None:
    """After COMPLIANCE_SECRET_KEY changes: check the chain under the old key, read from
    standard input (events appended since under the new key hold too), and its head against the
    checkpoint, then re-hash it under the configured key. Nothing changes if either fails."""
    settings = settings_or_exit()
    old_secret = None if from_unkeyed else sys.stdin.readline().rstrip("\r\n")
    old_key = None if old_secret is None else chain_key(old_secret)
    try:
        with session_scope(get_engine(settings)) as session:
            # Re-keying must not launder a truncated trail: the checkpoint is checked first,
            # with appends held back until the chain is re-keyed.
            hold_appends(session)
            missing = checkpoint.problems(
                session=session, data_dir=settings.data_dir, old_secret=old_secret
            )
            if missing:
                raise fail("Nothing re-keyed: " + "; ".join(missing) + ".")
            count = rekey(session=session, old_key=old_key, new_key=chain_key())
            latest = head(session)
    except ChainBroken as exc:
        raise fail(
            f"Nothing re-keyed: the chain does not verify under the old key at {exc}."
        ) from exc
    checkpoint.replace(settings.data_dir, latest)
    typer.echo(f"Audit chain re-keyed: {count} events now verify under the configured key.")
