"""Database URLs: which backend a location names, and the one way to show a URL without its password."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["POSTGRES_SCHEMES", "is_postgres_url", "redact_text", "redact_url", "url_secrets"]

#: URL schemes that open the PostgreSQL store (libpq accepts both).
POSTGRES_SCHEMES = ("postgresql", "postgres")

_MASK = "***"
#: Query parameters that libpq treats as secrets (``?password=...`` works like the user-info password).
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


def is_postgres_url(location: str) -> bool:
    """True for ``postgresql://...`` and ``postgres://...`` (any case), False for a file path."""
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.lower() in POSTGRES_SCHEMES


def url_secrets(url: str) -> list[str]:
    """Every password in *url* (user-info and ``password=``/``sslpassword=`` parameters), raw and decoded."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    netloc = parts.netloc
    userinfo, at, _ = netloc.rpartition("@")
    if at and ":" in userinfo:
        raw = userinfo.split(":", 1)[1]
        found += [raw, unquote(raw)]
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _SECRET_PARAMS:
            found += [value, quote(value, safe="")]
    return sorted({s for s in found if s}, key=len, reverse=True)


def redact_url(url: str) -> str:
    """*url* with every password replaced by ``***``: the only form of a URL that is printed or logged.

    ``postgresql://bob:s3cret@db/traj?sslpassword=x`` becomes ``postgresql://bob:***@db/traj?sslpassword=***``.
    Text that does not parse as a URL comes back with anything after ``:`` in its user-info masked.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(://[^/@:]*:)[^@]*@", rf"\g<1>{_MASK}@", url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{_MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, _MASK if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*/")
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # nothing secret: as given (urlunsplit would drop the // of postgresql:///db)
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    if not netloc and url.startswith(f"{parts.scheme}://"):
        rebuilt = rebuilt.replace(f"{parts.scheme}:", f"{parts.scheme}://", 1)
    return rebuilt


def redact_text(text: str, url: str) -> str:
    """*text* (an error message, say) with every password of *url* in it replaced by ``***``."""
    for secret in url_secrets(url):
        text = text.replace(secret, _MASK)
    return text
