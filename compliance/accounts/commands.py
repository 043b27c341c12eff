"""Commands for people: adding users, setting a lost password, and personal API tokens."""

import getpass
import sys
from typing import Annotated

import typer
from sqlmodel import Session, select

from compliance.cli_common import fail as _fail
from compliance.cli_common import settings_or_exit as _settings
from compliance.db import get_engine, session_scope

user_app = typer.Typer(no_args_is_help=True, help="Users who sign in.")


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Option(help="The user's email address (their sign-in).")],
    role: Annotated[str, typer.Option(help="admin, officer or inspector.")],
    name: Annotated[str, typer.Option(help="Full name (defaults to the email).")] = "",
    body: Annotated[list[str] | None, typer.Option(help="A body code in scope (repeat).")] = None,
    partnership: Annotated[
        list[str] | None, typer.Option(help="A partnership slug in scope (repeat).")
    ] = None,
) -> None:
    """Add a user; the password is read from standard input (never from the command line)."""
    from compliance.accounts.service import create_user
    from compliance.errors import Refused

    password = sys.stdin.readline().rstrip("\r\n")
    settings = _settings()
    try:
        with session_scope(get_engine(settings)) as session:
            user = create_user(
                session=session,
                email=email,
                name=name,
                role=role,
                password=password,
                body_codes=body or [],
                partnership_slugs=partnership or [],
            )
            typer.echo(f"Added {user.role} {user.email}.")
    except Refused as exc:
        raise _fail(f"User not added: {exc.message}") from exc


def _new_password() -> str:
    """The new password: typed twice, unseen, at a terminal; else the first line of standard
    input (never the command line, where other users and the shell's history could see it)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("New password: ")
    if getpass.getpass("The same password again: ") != password:
        raise _fail("Password not set: the two passwords you typed do not match")
    return password


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Argument(help="The user's email address (their sign-in).")],
) -> None:
    """Set a new password for a user who has lost theirs, read from standard input; every
    session of theirs ends."""
    from compliance.accounts.passwords import set_password
    from compliance.errors import Refused

    password = _new_password()
    try:
        with session_scope(get_engine(_settings())) as session:
            user = user_by_email(session, email)
            set_password(session=session, user=user, password=password, actor="cli")
            told = f"Password set for {user.email}; they are signed out everywhere."
    except Refused as exc:
        raise _fail(f"Password not set: {exc.message}") from exc
    typer.echo(told)


token_app = typer.Typer(no_args_is_help=True, help="Personal API tokens (Authorization: Bearer).")


def user_by_email(session: Session, email: str):
    from compliance.accounts.service import normalise_email
    from compliance.models import User

    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        raise _fail(f"No user with the email {email}")
    return user


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="Whose token it is.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "command line",
    expires_days: Annotated[int, typer.Option(help="Days until it stops working (1-366).")] = 90,
) -> None:
    """Create a token and print it once; only its hash is kept."""
    from compliance.accounts.tokens import create_token
    from compliance.errors import Refused

    try:
        with session_scope(get_engine(_settings())) as session:
            user = user_by_email(session, email)
            token, row = create_token(
                session=session, user=user, name=name, expires_days=expires_days, actor="cli"
            )
            told = f"Token {row.id} for {user.email}, expires {row.expires_at.date().isoformat()}."
    except Refused as exc:
        raise _fail(f"Token not created: {exc.message}") from exc
    typer.echo(token)
    typer.echo(f"{told} It is not shown again.", err=True)


@token_app.command("list")
def token_list(email: Annotated[str, typer.Option(help="Whose tokens to list.")]) -> None:
    """List a user's tokens (never the tokens themselves)."""
    from compliance.accounts.tokens import is_live, tokens_of

    with session_scope(get_engine(_settings())) as session:
        user = user_by_email(session, email)
        rows = tokens_of(session=session, user_id=user.id)
        for row in rows:
            state = "live" if is_live(row) else ("revoked" if row.revoked_at else "expired")
            used = row.last_used_at.date().isoformat() if row.last_used_at else "never used"
            typer.echo(
                f"{row.id}\t{row.prefix}…\t{row.name}\t{state}\t"
                f"expires {row.expires_at.date().isoformat()}\t{used}"
            )
        if not rows:
            typer.echo(f"{user.email} has no tokens.")


@token_app.command("revoke")
def token_revoke(
    email: Annotated[str, typer.Option(help="Whose token it is.")],
    token_id: Annotated[int, typer.Argument(help="The token's number, from `token list`.")],
) -> None:
    """Stop a token working, at once."""
    from compliance.accounts.tokens import revoke_token
    from compliance.errors import Refused

    try:
        with session_scope(get_engine(_settings())) as session:
            user = user_by_email(session, email)
            revoke_token(session=session, user_id=user.id, token_id=token_id, actor="cli")
    except Refused as exc:
        raise _fail(exc.message) from exc
    typer.echo(f"Token {token_id} revoked.")
