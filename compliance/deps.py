"""Dependencies shared by pages and API routes."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from compliance.config import Settings


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request, committed when the route returns without error."""
    with Session(request.app.state.engine) as session:
        yield session
        session.commit()


def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
