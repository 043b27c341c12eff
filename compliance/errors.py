"""The one kind of error a user's request can end in: refused, with a reason, nothing changed."""


class Refused(ValueError):
    """A request that cannot be carried out; `field` names the offending input when there is one."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


class NotFound(Refused):
    """Something named in a request does not exist."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message, field=field, status=404)
