"""OpenID Connect with Authlib: the authorization code flow with PKCE, state and nonce, and the
ID token's signature, issuer, audience, expiry and nonce checked.

The protocol is Authlib's (its Starlette client: discovery, PKCE, the token request, the ID
token's checks); this module only says which provider, and where the flow's state is kept
between the redirect to the provider and its answer. That state (state, nonce, PKCE verifier,
where to go afterwards) is kept in a short-lived cookie signed with the secret key, not in
Starlette's SessionMiddleware: the person has no server-side session yet, and nothing is stored
for a sign-in that never comes back. The cookie is deleted when the provider answers, so an
answer can be used once.

No database here: who may come in is `identities`' to decide, from the claims this returns.
"""

import base64
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx2
from anyio import from_thread
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)

from compliance.config import OidcProvider

PENDING_COOKIE = "compliance_oidc"
# Long enough to sign in at the provider (and perhaps answer a second factor), no longer.
PENDING_SECONDS = 600
# How long discovery and the token request may take before the provider counts as down.
PROVIDER_TIMEOUT_SECONDS = 10
T = TypeVar("T")


class SignInFailed(Exception):
    """A sign-in with a provider that did not work: `reason` for the audit trail, `message`
    in plain words for the person."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status


@dataclass(frozen=True)
class Pending:
    """A sign-in begun and sent to the provider, waiting for its answer."""

    provider: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next: str
    issued_at: float


def _run(call: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
    """Authlib's Starlette client is asynchronous; the page routes are plain functions in worker
    threads, so its coroutines are run on the server's event loop."""
    return from_thread.run(functools.partial(call, *args, **kwargs))


@functools.cache
def _registry() -> OAuth:
    # One registry for the process, so each provider's discovery document and keys are fetched
    # once, not at every sign-in.
    return OAuth()


def _client(provider: OidcProvider) -> Any:
    key = f"{provider.name}:{_fingerprint(provider)}"
    client = _registry().create_client(key)
    if client is not None:
        return client
    kwargs: dict[str, Any] = {
        "scope": provider.scopes,
        "code_challenge_method": "S256",
        "timeout": PROVIDER_TIMEOUT_SECONDS,
    }
    secret = provider.client_secret
    auth_methods = None
    if provider.private_key_file is not None:
        secret = provider.private_key_file.read_text()
        kwargs["token_endpoint_auth_method"] = "private_key_jwt"
        headers = {"kid": provider.private_key_id} if provider.private_key_id else None
        auth_methods = [PrivateKeyJWT(headers=headers, alg="RS256")]
    return _registry().register(
        key,
        client_id=provider.client_id,
        client_secret=secret,
        server_metadata_url=provider.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs=kwargs,
        client_auth_methods=auth_methods,
        authorize_params=provider.extra_authorize_params or None,
    )


def _fingerprint(provider: OidcProvider) -> str:
    # Settings differ between the tests' apps in one process: a changed provider gets a client
    # of its own rather than another's cached discovery.
    return hashlib.sha256(provider.model_dump_json().encode()).hexdigest()[:16]


def _unavailable(provider: OidcProvider) -> SignInFailed:
    message = (
        f"{provider.label} could not be reached just now, so you have not been signed in. "
        "Try again in a few minutes; if it keeps happening, tell your administrator"
    )
    return SignInFailed("provider_unavailable", message, status=503)


def metadata(provider: OidcProvider) -> dict[str, Any]:
    """The provider's discovery document (fetched once), its issuer checked against the one
    configured; SignInFailed if the provider cannot be reached or names another issuer."""
    client = _client(provider)
    try:
        found = _run(client.load_server_metadata)
    except (httpx2.HTTPError, ValueError) as exc:
        client.server_metadata.pop("_loaded_at", None)
        raise _unavailable(provider) from exc
    if str(found.get("issuer", "")).rstrip("/") != provider.issuer.rstrip("/"):
        client.server_metadata.clear()
        message = (
            f"{provider.label} is not set up correctly here (its discovery document names "
            "another issuer), so you have not been signed in. Tell your administrator"
        )
        raise SignInFailed("issuer_mismatch", message, status=503)
    return found


def begin(provider: OidcProvider, *, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
    """The provider's address to send the person to, and what to keep until they come back."""
    metadata(provider)
    try:
        made = _run(_client(provider).create_authorization_url, redirect_uri)
    except (httpx2.HTTPError, AuthlibBaseError) as exc:
        raise _unavailable(provider) from exc
    pending = Pending(
        provider=provider.name,
        state=made["state"],
        nonce=made["nonce"],
        code_verifier=made["code_verifier"],
        redirect_uri=redirect_uri,
        next=next_path,
        issued_at=time.time(),
    )
    return made["url"], pending


def _signature(payload: str, secret_key: str) -> str:
    key = hashlib.sha256(("oidc-pending:" + secret_key).encode()).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def seal(pending: Pending, *, secret_key: str) -> str:
    """The pending sign-in as a cookie value: its fields, signed (base64 without its padding,
    so that the value needs no quoting in a cookie)."""
    encoded = base64.urlsafe_b64encode(json.dumps(pending.__dict__).encode())
    payload = encoded.decode().rstrip("=")
    return f"{payload}.{_signature(payload, secret_key)}"


def unseal(value: str | None, *, secret_key: str, now: float) -> Pending | None:
    """The pending sign-in in a cookie, or None if there is none, it was altered, or it is
    older than PENDING_SECONDS."""
    payload, _, signature = (value or "").partition(".")
    if not payload or not hmac.compare_digest(signature, _signature(payload, secret_key)):
        return None
    try:
        padded = payload + "=" * (-len(payload) % 4)
        pending = Pending(**json.loads(base64.urlsafe_b64decode(padded)))
    except (ValueError, TypeError):
        return None
    return pending if 0 <= now - pending.issued_at <= PENDING_SECONDS else None


CANCELLED = "You cancelled signing in, so you have not been signed in"
EXPIRED = (
    "This sign-in has expired or has already been used, so you have not been signed in. "
    "Start again from the sign-in page"
)


def finish(provider: OidcProvider, *, query: dict[str, str], pending: Pending | None) -> dict:
    """The provider's answer checked: the code exchanged (with the PKCE verifier) and the ID
    token verified (signature, issuer, audience, expiry, nonce); its claims, with those of the
    userinfo endpoint when the ID token does not carry the email. SignInFailed otherwise."""
    if query.get("error") == "access_denied":
        raise SignInFailed("cancelled", CANCELLED)
    if query.get("error"):
        message = f"{provider.label} did not sign you in ({query['error'][:100]}). Try again"
        raise SignInFailed("provider_error", message)
    if pending is None or pending.provider != provider.name:
        raise SignInFailed("no_pending_sign_in", EXPIRED)
    if not hmac.compare_digest(query.get("state", ""), pending.state) or not query.get("code"):
        raise SignInFailed("state_mismatch", EXPIRED)
    metadata(provider)
    token = _exchange(provider, query["code"], pending)
    claims = _verified_claims(provider, token, pending.nonce)
    if provider.email_claim not in claims and "userinfo_endpoint" in metadata(provider):
        claims = _with_userinfo(provider, token, claims)
    return claims


def _exchange(provider: OidcProvider, code: str, pending: Pending) -> dict:
    client = _client(provider)
    try:
        token = _run(
            client.fetch_access_token,
            redirect_uri=pending.redirect_uri,
            code=code,
            code_verifier=pending.code_verifier,
        )
    except httpx2.HTTPError as exc:
        raise _unavailable(provider) from exc
    except AuthlibBaseError as exc:
        # invalid_grant: a code already used, expired, or not made for this verifier.
        raise SignInFailed(f"token_refused:{exc.error}"[:100], EXPIRED) from exc
    if "id_token" not in token:
        message = f"{provider.label} did not send an ID token, so you have not been signed in"
        raise SignInFailed("no_id_token", message)
    return token


def _verified_claims(provider: OidcProvider, token: dict, nonce: str) -> dict:
    client = _client(provider)
    untrusted = f"The answer from {provider.label} could not be trusted"
    try:
        # Authlib checks the audience only through azp unless told the values it may hold.
        expected = {
            "iss": {"essential": True, "values": [metadata(provider)["issuer"]]},
            "aud": {"essential": True, "values": [provider.client_id]},
        }
        found = _run(client.parse_id_token, token, nonce=nonce, claims_options=expected, leeway=60)
        return dict(found)
    except httpx2.HTTPError as exc:
        raise _unavailable(provider) from exc
    except ExpiredTokenError as exc:
        raise SignInFailed("id_token_expired", EXPIRED) from exc
    except (BadSignatureError, DecodeError, ValueError) as exc:
        raise SignInFailed("id_token_signature", f"{untrusted} (its signature is wrong)") from exc
    except (InvalidClaimError, MissingClaimError) as exc:
        claim = getattr(exc, "claim", "") or str(exc)
        words = {
            "aud": "it was meant for another service",
            "azp": "it was meant for another service",
            "iss": "it came from another issuer",
            "nonce": "it does not belong to this sign-in",
            "exp": "it has expired",
        }.get(claim, f"its {claim} claim is wrong")
        raise SignInFailed(f"id_token_{claim}"[:100], f"{untrusted} ({words})") from exc
    except JoseError as exc:
        raise SignInFailed("id_token_invalid", untrusted) from exc


def _with_userinfo(provider: OidcProvider, token: dict, claims: dict) -> dict:
    # GOV.UK One Login, among others, sends the email only from its userinfo endpoint.
    client = _client(provider)
    try:
        info = dict(_run(client.userinfo, token=token))
    except (httpx2.HTTPError, AuthlibBaseError) as exc:
        raise _unavailable(provider) from exc
    if info.get("sub") != claims.get("sub"):
        raise SignInFailed("userinfo_subject", f"The answer from {provider.label} did not agree")
    return info | claims


def sign_out_url(provider: OidcProvider) -> str | None:
    """Where to sign out of the provider too, if it says (end_session_endpoint), else None."""
    try:
        endpoint = metadata(provider).get("end_session_endpoint")
    except SignInFailed:
        return None
    if not endpoint:
        return None
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode({'client_id': provider.client_id})}"
