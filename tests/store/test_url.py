"""The one redaction helper: a URL is only ever shown without its password."""

from __future__ import annotations

import pytest

from trajectories.store import redact_url

from trajectories._internal.store.url import is_postgres_url, redact_text  # isort: skip


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:s3cret@db.example:5432/traj", "postgresql://bob:***@db.example:5432/traj"),
        ("postgres://bob:p%40ss%3Aword@db/traj", "postgres://bob:***@db/traj"),
        ("postgresql://bob:a:b@c@db/traj", "postgresql://bob:***@db/traj"),  # ':' and '@' inside the password
        ("postgresql://bob@db/traj", "postgresql://bob@db/traj"),
        ("postgresql:///traj?host=/run/pg", "postgresql:///traj?host=/run/pg"),
        (
            "postgresql://db/traj?user=bob&password=hunter2&sslmode=require",
            "postgresql://db/traj?user=bob&password=***&sslmode=require",
        ),
        ("postgresql://db/traj?sslpassword=k3y", "postgresql://db/traj?sslpassword=***"),
        ("/var/lib/trajectories.db", "/var/lib/trajectories.db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_removes_every_form_of_the_password() -> None:
    url = "postgresql://bob:p%40ss@db/traj?password=other"
    text = "failed for p@ss and p%40ss and other at postgresql://bob:p%40ss@db"
    cleaned = redact_text(text, url)
    assert "p@ss" not in cleaned
    assert "p%40ss" not in cleaned
    assert "other" not in cleaned
    assert cleaned.count("***") == 4


def test_is_postgres_url() -> None:
    assert is_postgres_url("postgresql://x/y")
    assert is_postgres_url("POSTGRES://x/y")
    assert not is_postgres_url("trajectories.db")
    assert not is_postgres_url("sqlite:///x")
    assert not is_postgres_url("postgresql:x")
