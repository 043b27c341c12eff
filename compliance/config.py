"""Settings, read from environment variables prefixed COMPLIANCE_ (and a .env file)."""

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_LENGTH = 32
DEFAULT_SECRET_KEY = "development-only-secret-key-change-me"
# Words of the values that documentation and templates offer in place of a secret, found in a
# key with its case, spaces and punctuation ignored: none appears in `openssl rand -hex 32`.
PLACEHOLDER_WORDS = (
    "changeme",
    "changethis",
    "replaceme",
    "yoursecret",
    "insecure",
    "placeholder",
    "example",
)


@dataclass(frozen=True)
class Ceiling:
    """How long one report render may take, and how much memory it may hold (a setting; the
    renders themselves are compliance.reports.ceiling's)."""

    seconds: int
    memory_mb: int


class OidcGrant(BaseModel):
    """What an account made at its first sign-in is given, for one value of the groups claim."""

    role: Literal["admin", "officer", "inspector"]
    bodies: list[str] = []
    partnerships: list[str] = []


class OidcProvider(BaseModel):
    """One OpenID provider people may sign in with (an item of COMPLIANCE_OIDC_PROVIDERS)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", description="Short name, in addresses.")
    label: str = Field(min_length=1, max_length=80, description="Shown on the sign-in button.")
    issuer: str = Field(description="Issuer URL; discovery is read from its well-known address.")
    client_id: str = Field(min_length=1)
    client_secret: str | None = Field(default=None, description="For client_secret_basic.")
    private_key_file: Path | None = Field(
        default=None, description="PEM private key for private_key_jwt client authentication."
    )
    private_key_id: str | None = Field(default=None, description="The key's kid, if required.")
    scopes: str = "openid email profile"
    email_claim: str = "email"
    subject_claim: str = Field(default="sub", description="The claim that identifies a person.")
    email_verified: bool = Field(
        default=False,
        description="Take the email claim as verified without an email_verified claim (for a "
        "provider whose addresses its organisation assigns).",
    )
    create_users: bool = False
    groups_claim: str = "groups"
    grants: dict[str, OidcGrant] = {}
    extra_authorize_params: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_client_credential(self) -> "OidcProvider":
        if (self.client_secret is None) == (self.private_key_file is None):
            raise ValueError(
                f"OIDC provider {self.name!r}: give either client_secret or private_key_file"
            )
        return self


class Settings(BaseSettings):
    """Every setting of the application; the README documents each one."""

    model_config = SettingsConfigDict(env_prefix="COMPLIANCE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        description="development, test or production; production refuses unsafe defaults.",
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="Folder for the SQLite database, evidence files and mail written to disk.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to SQLite at DATA_DIR/compliance.db. "
        "For PostgreSQL: postgresql+psycopg://user@host:5432/dbname.",
    )
    worker_threads: int = Field(
        default=40,
        ge=1,
        le=1000,
        description="Requests each process serves at once, each in a thread of its own; the "
        "database pool is sized from it.",
    )
    database_pool_size: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Database connections each process keeps open; by default WORKER_THREADS, "
        "one for each request it serves at once. On PostgreSQL keep processes x (size + "
        "overflow) under the server's max_connections.",
    )
    database_pool_overflow: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="Connections a process may open beyond the pool size, for downloads that "
        "stream after their request's own connection is returned, and busy moments.",
    )
    database_pool_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=120,
        description="How long a request waits for a free connection before it is answered 503 "
        "with Retry-After.",
    )
    database_busy_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=120,
        description="How long a change waits for a lock before it is answered 503 with "
        "Retry-After: on SQLite for the one writer allowed at a time (busy timeout), on "
        "PostgreSQL for a locked row or the audit chain (lock_timeout).",
    )
    secret_key: str = Field(
        default=DEFAULT_SECRET_KEY,
        description="Secret used to sign sessions and tokens; must be changed outside development.",
    )
    timezone: str = Field(
        default="Europe/London",
        description="Timezone in which due dates and scheduled jobs are reckoned.",
    )
    due_soon_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days before a due date from which an obligation shows as due soon.",
    )

    max_upload_bytes: int = Field(
        default=25_000_000,
        ge=1_000,
        description="Largest evidence file accepted, in bytes (25 MB by default).",
    )
    report_render_seconds: int = Field(
        default=300,
        ge=5,
        le=3600,
        description="Longest one report's PDF may take to render; past it the render is stopped "
        "and the request (or background job) says so, storing nothing.",
    )
    report_render_memory_mb: int = Field(
        default=2048,
        ge=256,
        le=65536,
        description="Most memory, in MB, one report's render may hold; past it the render is "
        "stopped and says so, storing nothing.",
    )
    report_render_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        description="How many reports one process renders at once, each in a child process of "
        "its own within the ceiling above (the number of cores by default).",
    )
    report_detail_holders: int = Field(
        default=25,
        ge=1,
        le=100_000,
        description="A duty or area report whose obligations have more holders (bodies and "
        "partnerships) than this is a summary: a line per holder with the address of its own "
        "report, which holds the detail (a body's or partnership's own report is never one).",
    )
    query_answer_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="Days an inspector's query may wait for an answer before it is a finding.",
    )
    check_time: str = Field(
        default="02:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local time (HH:MM, in TIMEZONE) of the nightly compliance check.",
    )
    scheduler_tick_seconds: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="How often the scheduler asks the database which jobs are due.",
    )

    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The address people reach the application at; links in emails start with it.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP relay for email; when unset, emails are written as .eml files under "
        "DATA_DIR/mail/.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (port 587), tls (implicit TLS, port 465) or none (a local relay).",
    )
    smtp_user: str | None = Field(
        default=None, description="SMTP user name, if the relay needs one."
    )
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_timeout_seconds: int = Field(
        default=30, ge=1, le=600, description="How long to wait for the SMTP relay."
    )
    mail_from: str = Field(
        default="Partnership duties tracker <no-reply@localhost>",
        description="The From address of every email.",
    )
    reminder_days: str = Field(
        default="30,7,1",
        pattern=r"^\d{1,3}(,\d{1,3})*$",
        description="Days before a due date on which reminders are sent (a body may set its own).",
    )
    reminder_time: str = Field(
        default="07:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local time (HH:MM) at which the daily reminders are queued and sent.",
    )
    digest_time: str = Field(
        default="08:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local time (HH:MM) on Mondays at which the weekly digests are sent.",
    )
    mail_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Send attempts before an email is marked dead."
    )
    session_idle_minutes: int = Field(
        default=30, ge=5, le=24 * 60, description="Minutes of inactivity that end a sign-in."
    )
    session_max_hours: int = Field(
        default=12,
        ge=1,
        le=7 * 24,
        description="Hours after signing in that a sign-in ends, however active it has been.",
    )
    oidc_providers: list[OidcProvider] = Field(
        default=[],
        description="OpenID Connect providers people may sign in with, as a JSON list "
        "(see the README's 'Signing in with a work account'); none by default.",
    )
    local_passwords: bool = Field(
        default=True,
        description="Whether people may sign in with a password; when off, only the "
        "break-glass administrator (BREAK_GLASS_EMAIL) may.",
    )
    break_glass_email: str | None = Field(
        default=None,
        description="The one account that may still sign in with a password when "
        "LOCAL_PASSWORDS is off (an administrator, for when the providers are down).",
    )
    sign_in_max_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed sign-ins allowed per account from one address in 15 minutes; then "
        "that account is refused from that address (elsewhere it still signs in).",
    )
    sign_in_max_failures_per_address: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Failed sign-ins allowed from one address in 15 minutes, whatever the "
        "accounts; then every sign-in from that address is refused.",
    )
    max_import_rows: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Most records one CSV import (bodies, measurements) may hold, on the pages, "
        "the API and the command line; a larger file is refused whole, naming how many it has.",
    )
    api_docs: bool | None = Field(
        default=None,
        description="Serve the interactive API documentation (/docs) and its schema "
        "(/openapi.json): on or off; unset, on except in production.",
    )

    web_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Web processes `compliance serve` starts (its --workers); on PostgreSQL, "
        "the number of cores.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="Comma-separated addresses or networks (CIDR) of the proxies whose "
        "X-Forwarded-Proto and X-Forwarded-For are believed; * for any. Others' are ignored.",
    )
    scheduler_in_web: bool | None = Field(
        default=None,
        description="Run the scheduled jobs inside `compliance serve`: on or off; unset, on "
        "except in production, where `compliance scheduler` runs them as a service of its own.",
    )
    shutdown_timeout_seconds: int = Field(
        default=30,
        ge=1,
        le=3600,
        description="On SIGTERM, how long the web server lets requests in progress finish "
        "before it cuts them off.",
    )
    hsts_seconds: int = Field(
        default=0,
        ge=0,
        le=2 * 365 * 24 * 3600,
        description="Strict-Transport-Security max-age sent on HTTPS responses; 0 sends none.",
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="json (one JSON object a line) or text; unset, json in production and text "
        "elsewhere.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="The least severe log lines written: DEBUG, INFO, WARNING or ERROR.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        # Checked here because uvicorn takes what it cannot read as a name to compare with the
        # client's address, which never matches: a mistyped proxy would be silently untrusted.
        items = [item.strip() for item in value.split(",") if item.strip()]
        if items == ["*"]:
            return "*"
        for item in items:
            try:
                ipaddress.ip_network(item)  # an address, or a network without host bits set
            except ValueError:
                raise ValueError(
                    f"COMPLIANCE_FORWARDED_ALLOW_IPS: {item!r} is not an address or a network "
                    "(give addresses such as 10.0.0.5 or networks such as 10.0.0.0/24, "
                    "separated by commas, or * alone)"
                ) from None
        if not items:
            raise ValueError("COMPLIANCE_FORWARDED_ALLOW_IPS is empty: give at least 127.0.0.1")
        return ",".join(items)

    @field_validator("oidc_providers")
    @classmethod
    def _names_unique(cls, value: list[OidcProvider]) -> list[OidcProvider]:
        names = [provider.name for provider in value]
        if len(names) != len(set(names)):
            raise ValueError("COMPLIANCE_OIDC_PROVIDERS: each provider needs a name of its own")
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        if self.environment != "development" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError(
                "COMPLIANCE_SECRET_KEY is still the development default: set a long random value "
                f"before running in {self.environment}"
            )
        if self.environment not in {"development", "test"}:
            _refuse_weak_secret(self.secret_key, self.environment)
        return self

    def today(self) -> dt.date:
        """Today's date where the bodies are, not where the server is."""
        return dt.datetime.now(ZoneInfo(self.timezone)).date()

    def password_allowed(self, email: str) -> bool:
        """Whether this email address may sign in with a password."""
        if self.local_passwords:
            return True
        glass = (self.break_glass_email or "").strip().lower()
        return bool(glass) and email.strip().lower() == glass

    def oidc_provider(self, name: str) -> OidcProvider | None:
        """The configured provider of this name, or None."""
        return next((p for p in self.oidc_providers if p.name == name), None)

    @property
    def api_docs_on(self) -> bool:
        """Whether /docs and /openapi.json are served."""
        return self.environment != "production" if self.api_docs is None else self.api_docs

    @property
    def scheduler_in_web_on(self) -> bool:
        """Whether `compliance serve` runs the scheduled jobs itself."""
        if self.scheduler_in_web is None:
            return self.environment != "production"
        return self.scheduler_in_web

    @property
    def log_json(self) -> bool:
        """Whether log lines are JSON objects."""
        return (
            self.log_format or ("json" if self.environment == "production" else "text")
        ) == "json"

    @property
    def render_ceiling(self) -> Ceiling:
        """How long, and with how much memory, one report may render."""
        return Ceiling(self.report_render_seconds, self.report_render_memory_mb)

    @property
    def pool_size(self) -> int:
        """Connections each process keeps open."""
        return self.database_pool_size or self.worker_threads

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL actually used."""
        return self.database_url or f"sqlite:///{self.data_dir / 'compliance.db'}"


def _refuse_weak_secret(key: str, environment: str) -> None:
    """Refuse a key that is short, or a placeholder copied from an example, outside
    development and test."""
    if len(key.strip()) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"COMPLIANCE_SECRET_KEY is too short for {environment}: set a random value of at "
            f"least {MIN_SECRET_LENGTH} characters (for example from `openssl rand -hex 32`)"
        )
    letters = "".join(c for c in key.lower() if c.isalnum())
    found = next((word for word in PLACEHOLDER_WORDS if word in letters), None)
    if found:
        raise ValueError(
            f"COMPLIANCE_SECRET_KEY looks like a placeholder (it contains “{found}”): set a "
            f"random value before running in {environment} (for example from "
            "`openssl rand -hex 32`)"
        )


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()
