"""The calendar feed at its secret address; the token in the path is the only credential."""

from fastapi import Depends
from fastapi.responses import Response

from compliance.calendar.service import feed
from compliance.deps import SessionDep, SettingsDep, page_router, public
from compliance.errors import NotFound

router = page_router()


@router.get("/calendar/{token}.ics", dependencies=[Depends(public)])
def calendar_feed(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    """Every deadline in a user's scope or of a body, as iCalendar; 404 once revoked."""
    content = feed(session=session, settings=settings, token=token)
    if content is None:
        raise NotFound("No calendar at this address: it may have been revoked")
    return Response(
        content,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="deadlines.ics"',
            "Cache-Control": "private, max-age=900",
        },
    )
