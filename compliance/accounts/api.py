"""JSON routes for users (administrators), who is signed in, and personal API tokens."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from compliance.access import Principal, require
from compliance.accounts.models import ApiToken
from compliance.accounts.service import (
    USERS_BY_ID,
    Role,
    create_user,
    get_user,
    list_users,
    scopes_of,
    update_user,
)
from compliance.accounts.tokens import (
    DEFAULT_EXPIRES_DAYS,
    MAX_EXPIRES_DAYS,
    create_token,
    is_live,
    revoke_token,
    tokens_of,
)
from compliance.api import (
    MAX_ID,
    ApiInput,
    Timestamp,
    api_router,
)
from compliance.db import row_id
from compliance.deps import AdminUser, ApiWriter, CurrentUser, SessionDep
from compliance.errors import NotFound, Refused
from compliance.models import User

router = api_router("users")

UserId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[7])]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[31])]
BodyCode = Annotated[str, Field(min_length=1, max_length=20)]
PartnershipSlug = Annotated[str, Field(min_length=1, max_length=80)]
# JSON carries a role as text; strict mode would want a Role object, so the role alone is lax.
RoleName = Annotated[Role, Field(strict=False)]
# What the services call a field, as a request body names it.
BODY_FIELDS = {"body": "bodies", "partnership": "partnerships"}

USER_EXAMPLE: JsonDict = {
    "id": 7,
    "email": "kerensa.pascoe@cornwall.gov.uk",
    "name": "Kerensa Pascoe",
    "role": "officer",
    "is_active": True,
    "created_at": "2026-04-01T09:12:00Z",
    "bodies": ["E06000052", "CORNWALL-FRS"],
    "partnerships": ["cios-safeguarding-adults-board", "safer-cornwall"],
}
TOKEN_EXAMPLE: JsonDict = {
    "id": 31,
    "name": "Power BI refresh",
    "prefix": "cpt_Xq81bT",
    "created_at": "2026-11-26T10:02:00Z",
    "expires_at": "2027-02-24T10:02:00Z",
    "last_used_at": None,
    "revoked_at": None,
    "state": "live",
}


class UserPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})

    id: int
    email: str
    name: str
    role: str
    is_active: bool
    created_at: Timestamp
    bodies: list[str] = Field(description="Codes of the bodies in the user's scope")
    partnerships: list[str] = Field(description="Slugs of the partnerships in the user's scope")


class UserPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [USER_EXAMPLE], "next_cursor": "Wzdd"}]}
    )

    items: list[UserPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class UserCreate(ApiInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "kerensa.pascoe@cornwall.gov.uk",
                    "name": "Kerensa Pascoe",
                    "role": "officer",
                    "password": "a long passphrase of words",
                    "bodies": ["E06000052"],
                    "partnerships": ["cios-safeguarding-adults-board"],
                }
            ]
        }
    )

    email: str = Field(max_length=254)
    name: str = Field(min_length=1, max_length=200)
    role: RoleName
    password: str = Field(max_length=1000, description="At least 12 characters")
    bodies: list[BodyCode] = Field(default=[], max_length=500)
    partnerships: list[PartnershipSlug] = Field(default=[], max_length=500)


class UserUpdate(ApiInput):
    """Only the fields sent change; `bodies` or `partnerships` replace that part of the scope."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "inspector", "bodies": ["E06000052", "QT6"]}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: RoleName | None = None
    is_active: bool | None = Field(
        default=None, description="false ends the user's sessions and revokes their tokens"
    )
    bodies: list[BodyCode] | None = Field(default=None, max_length=500)
    partnerships: list[PartnershipSlug] | None = Field(default=None, max_length=500)


class MePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {k: USER_EXAMPLE[k] for k in ("id", "email", "name", "role", "bodies")}
                | {"partnerships": USER_EXAMPLE["partnerships"], "signed_in_with": "token"}
            ]
        }
    )

    id: int
    email: str
    name: str
    role: str
    bodies: list[str] = Field(description="Codes of the bodies your scope names")
    partnerships: list[str] = Field(description="Slugs of the partnerships your scope names")
    signed_in_with: Literal["token", "session"]


class TokenPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TOKEN_EXAMPLE]})

    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart")
    created_at: Timestamp
    expires_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    state: Literal["live", "expired", "revoked"]


class TokenCreated(TokenPublic):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                TOKEN_EXAMPLE | {"token": "cpt_Xq81bTn3V0mJd6hQe2yWc9LrKsA4uPzG7fBtE1oNiRx"}
            ]
        }
    )

    token: str = Field(description="The token itself: shown this once, never again")


class TokenCreate(ApiInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Power BI refresh", "expires_days": 90}]}
    )

    name: str = Field(min_length=1, max_length=100, description="What the token is for")
    expires_days: int = Field(default=DEFAULT_EXPIRES_DAYS, ge=1, le=MAX_EXPIRES_DAYS)


@contextmanager
def _fields_in_body() -> Iterator[None]:
    """A service's refusal, naming the field as the request body does."""
    try:
        yield
    except Refused as exc:
        if exc.field and "." not in exc.field:
            exc.field = "body." + BODY_FIELDS.get(exc.field, exc.field)
        raise


def _users_public(session: SessionDep, users: list[User]) -> list[UserPublic]:
    scopes = scopes_of(session=session, user_ids=[row_id(u) for u in users])
    return [
        UserPublic.model_validate(
            u.model_dump() | {"bodies": scopes[row_id(u)][0], "partnerships": scopes[row_id(u)][1]}
        )
        for u in users
    ]


def _user_or_404(session: SessionDep, user_id: int) -> User:
    user = get_user(session=session, user_id=user_id)
    if user is None:
        raise NotFound(f"No user {user_id}", field="path.user_id")
    return user


def token_public(token: ApiToken) -> TokenPublic:
    state = "revoked" if token.revoked_at else "live" if is_live(token) else "expired"
    return TokenPublic.model_validate(token.model_dump() | {"state": state})


@router.get("/users", response_model=UserPage)
def read_users(
    session: SessionDep,
    principal: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> UserPage:
    """Every user with their role and scope, in the order they were added (administrators
    only)."""
    users = list_users(session=session, after=USERS_BY_ID.read_cursor(cursor), limit=limit + 1)
    page, next_cursor = USERS_BY_ID.cut(users, limit)
    return UserPage(items=_users_public(session, page), next_cursor=next_cursor)


@router.post("/users", response_model=UserPublic, status_code=201)
def add_user(new: UserCreate, session: SessionDep, principal: ApiWriter) -> UserPublic:
    """Add a user with a role, a password and a scope of bodies and partnerships (administrators
    only); the password is kept only as an argon2id hash."""
    require(principal.is_admin, "Only administrators can add users")
    with _fields_in_body():
        user = create_user(
            session=session,
            email=new.email,
            name=new.name,
            role=new.role.value,
            password=new.password,
            body_codes=new.bodies,
            partnership_slugs=new.partnerships,
            actor=principal.user.email,
        )
    return _users_public(session, [user])[0]


@router.get("/users/{user_id}", response_model=UserPublic)
def read_user(user_id: UserId, session: SessionDep, principal: AdminUser) -> UserPublic:
    """One user with their role and scope (administrators only)."""
    return _users_public(session, [_user_or_404(session, user_id)])[0]


@router.patch("/users/{user_id}", response_model=UserPublic)
def change_user(
    user_id: UserId, change: UserUpdate, session: SessionDep, principal: ApiWriter
) -> UserPublic:
    """Change a user's name, role, scope or whether they can sign in (administrators only).
    Deactivating ends their sessions and revokes their API tokens at once."""
    require(principal.is_admin, "Only administrators can change users")
    user = _user_or_404(session, user_id)
    with _fields_in_body():
        update_user(
            session=session,
            user=user,
            actor=principal.user.email,
            name=change.name,
            role=change.role and change.role.value,
            is_active=change.is_active,
            body_codes=change.bodies,
            partnership_slugs=change.partnerships,
        )
    return _users_public(session, [user])[0]


@router.get("/users/{user_id}/tokens", response_model=list[TokenPublic])
def read_user_tokens(
    user_id: UserId, session: SessionDep, principal: AdminUser
) -> list[TokenPublic]:
    """A user's API tokens, newest first, revoked and expired ones included (administrators only;
    the tokens themselves are never shown)."""
    user = _user_or_404(session, user_id)
    return [token_public(t) for t in tokens_of(session=session, user_id=row_id(user))]


@router.delete("/users/{user_id}/tokens/{token_id}", response_model=TokenPublic)
def revoke_user_token(
    user_id: UserId, token_id: TokenId, session: SessionDep, principal: ApiWriter
) -> TokenPublic:
    """Stop one of a user's API tokens working, at once (administrators only)."""
    require(principal.is_admin, "Only administrators can revoke another user's tokens")
    user = _user_or_404(session, user_id)
    return _revoke(session, principal, row_id(user), token_id)


def _revoke(session: SessionDep, principal: Principal, user_id: int, token_id: int) -> TokenPublic:
    try:
        token = revoke_token(
            session=session, user_id=user_id, token_id=token_id, actor=principal.user.email
        )
    except NotFound as exc:
        raise NotFound(exc.message, field="path.token_id") from exc
    return token_public(token)


@router.get("/me", response_model=MePublic)
def read_me(request: Request, session: SessionDep, principal: CurrentUser) -> MePublic:
    """Who you are signed in as: your email, role, and the bodies and partnerships your scope
    names, and whether this request came with a token or a browser session."""
    user = principal.user
    codes, slugs = scopes_of(session=session, user_ids=[row_id(user)])[row_id(user)]
    via = "token" if getattr(request.state, "via_token", False) else "session"
    fields = user.model_dump(include={"id", "email", "name", "role"})
    return MePublic(**fields, bodies=codes, partnerships=slugs, signed_in_with=via)


@router.get("/me/tokens", response_model=list[TokenPublic])
def read_my_tokens(session: SessionDep, principal: CurrentUser) -> list[TokenPublic]:
    """Your API tokens, newest first, with when each expires and was last used (the tokens
    themselves are never shown again after they are created)."""
    return [token_public(t) for t in tokens_of(session=session, user_id=row_id(principal.user))]


@router.post("/me/tokens", response_model=TokenCreated, status_code=201)
def add_my_token(
    new: TokenCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: ApiWriter,
) -> TokenCreated:
    """Create a personal API token; the answer holds the token itself, which is shown this once.
    Create tokens from a signed-in browser (or the command line): a token cannot make another."""
    require(
        not getattr(request.state, "via_token", False),
        "A token cannot create tokens: create one on your account page or with the command line",
    )
    with _fields_in_body():
        secret, token = create_token(
            session=session,
            user=principal.user,
            name=new.name,
            expires_days=new.expires_days,
            actor=principal.user.email,
        )
    response.headers["Cache-Control"] = "no-store"
    return TokenCreated(**token_public(token).model_dump(), token=secret)


@router.delete("/me/tokens/{token_id}", response_model=TokenPublic)
def revoke_my_token(token_id: TokenId, session: SessionDep, principal: ApiWriter) -> TokenPublic:
    """Stop one of your API tokens working, at once; revoking twice is harmless."""
    return _revoke(session, principal, row_id(principal.user), token_id)
