"""The one kind of error a user's request can end in: refused, with a reason, nothing changed."""


class Refused(ValueError):
    """A request that cannot be carried out; `field` names the offending input when there is one."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.headers = headers


class NotSaved(Refused):
    """The database refused or lost a change (busy, unreachable, or the commit failed): nothing
    was stored, and trying again shortly may work."""

    def __init__(self, message: str = "", *, retry_after: int = 5):
        super().__init__(
            message
            or "Your change was not saved: the database was busy or could not be reached. "
            "Nothing was stored; try again in a moment",
            status=503,
            headers={"Retry-After": str(retry_after)},
        )


class NotFound(Refused):
    """Something named in a request does not exist."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message, field=field, status=404)
