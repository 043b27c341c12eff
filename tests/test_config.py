"""Settings: documented, and unsafe defaults refused outside development."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from compliance.config import DEFAULT_SECRET_KEY, Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text()
    for name, field in Settings.model_fields.items():
        assert f"COMPLIANCE_{name.upper()}" in text, name
        assert field.description, name


def test_the_default_secret_is_refused_in_production():
    with pytest.raises(ValidationError, match="COMPLIANCE_SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET_KEY)


def test_the_default_secret_is_accepted_in_development():
    assert Settings(environment="development").secret_key == DEFAULT_SECRET_KEY


def test_sqlite_under_the_data_dir_is_the_default(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=None)
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'compliance.db'}"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("COMPLIANCE_DUE_SOON_DAYS", "14")
    assert Settings().due_soon_days == 14
    assert re.match(r"\d{4}-\d{2}-\d{2}", Settings().today().isoformat())


@pytest.mark.parametrize("key", ["", "x", "   " + "k" * 20 + "   ", "s" * 31])
def test_a_short_or_empty_secret_is_refused_in_production(key):
    with pytest.raises(ValidationError, match="COMPLIANCE_SECRET_KEY is too short"):
        Settings(environment="production", secret_key=key)
    Settings(environment="production", secret_key="s" * 32)  # long enough
