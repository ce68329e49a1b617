"""One typed settings object, read from the environment (prefix ``PATRON_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - a known placeholder


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``PATRON_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PATRON_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    """``production`` refuses placeholder secrets."""

    database_url: str = "sqlite:///./var/patron.db"
    """SQLAlchemy URL: an SQLite file (default) or ``postgresql+psycopg://user:pw@host/db``."""

    secret_key: str = DEVELOPMENT_SECRET
    """Key for keyed hashes (suppression digests, PINs). Kept outside the database."""

    host: str = "127.0.0.1"
    """Address ``patron serve`` listens on."""

    port: int = 8000
    """Port ``patron serve`` listens on."""

    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest JSON request body accepted by the API, in bytes."""

    default_page_size: int = Field(default=10, ge=1)
    """Page size of list endpoints when ``limit`` is not given."""

    max_page_size: int = Field(default=100, ge=1)
    """Hard maximum of ``limit`` on every list endpoint."""

    max_identifiers_per_request: int = Field(default=50, ge=1)
    """Most identifiers (and communication channels) one request may carry."""

    max_field_length: int = Field(default=255, ge=1)
    """Longest custom or extended field value accepted."""

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("PATRON_SECRET_KEY must be set to a real secret in production")
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("PATRON_SECRET_KEY must be at least 32 characters in production")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
