"""Content capture: a step's arguments and return value as JSON span attributes. Off by default.

``configure(capture_content=True)`` (or ``@step(capture=True)``) turns it on. A captured
value goes through three stages, none of which ever raises into user code:

1. **to JSON values** — ``dict``/``list``/``tuple``/``set`` become objects and arrays (at most
   ``MAX_ITEMS`` entries each, ``MAX_DEPTH`` levels deep, ``MAX_NODES`` values in all);
   ``str``, ``bool``, ``None``, finite numbers stay; anything else becomes its ``repr`` (cut to
   the length limit; an object whose ``repr`` raises becomes ``<TypeName object>``).
   Strings are kept to several times the limit, so the redaction hook sees more of them than
   can ever be recorded.
2. **redaction** — the configured hook (default :func:`redact_secrets`) gets those JSON
   values and returns what may be recorded. A hook that raises drops the content (counted in
   :data:`content_counters`, logged by exception type only): content is never recorded
   unredacted.
3. **length limit** — the JSON text is at most ``max_content_length`` characters, and still
   valid JSON: strings and containers inside are shortened (a cut string ends with
   ``…[+N chars]``, a cut array gets a last element ``…[+N items]``, a cut object a key
   ``…`` with ``+N keys``) until it fits; if nothing fits, the text is a JSON string
   ``"[truncated: N chars]"``.

The argument names come from the function's signature, computed once when it is decorated.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..diagnostics import report_internal_error
from ..validate import shown

__all__ = [
    "REDACTED",
    "ContentCounters",
    "content_counters",
    "make_binder",
    "redact_secrets",
    "render_content",
    "render_text",
]

_logger = logging.getLogger(__name__)

MAX_DEPTH = 8
MAX_ITEMS = 100
MAX_NODES = 2_000
REDACTED = "[REDACTED]"
#: Keys whose values the default redactor masks (searched in the key, any case): passwords,
#: secrets, tokens (``access_token``, ``authToken``; not ``max_tokens``), API keys,
#: authorization, credentials, private keys, cookies, signatures.
SENSITIVE_KEY = re.compile(
    r"passw(or)?d|passphrase|(?<![a-z])pass(?![a-z])|secret"
    r"|(?<![a-z])token(?![a-z])|(access|refresh|auth|id|bearer|session|csrf|xsrf|api)[-_]?token"
    r"|api[-_]?key|authori[sz]ation|(?<![a-z])o?auth(?![a-z])|credential|private[-_]?key|cookie|signature",
    re.IGNORECASE,
)
#: String values the default redactor masks wherever they appear: an HTTP bearer/basic credential.
_SENSITIVE_VALUE = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
#: ``name=value`` / ``name: value`` inside a string (a repr, a URL query, a config line) whose
#: name looks secret: the value is masked. ``max_tokens=5`` is left alone.
_SENSITIVE_ASSIGNMENT = re.compile(
    r"((?<![A-Za-z0-9])[\w-]*?(?:passw(?:or)?d|passphrase|secret|token|api[-_]?key|apikey|authorization|credentials?"
    r"|private[-_]?key|cookie|signature)(?![A-Za-z])['\"]?\s*[=:]\s*)(['\"]?)(?!(?:Bearer|Basic)\s)([^'\"\s,;)}&]+)",
    re.IGNORECASE,
)

Binder = Callable[[tuple[Any, ...], Mapping[str, Any]], dict[str, Any]]


class ContentCounters:
    """How often captured content was dropped because the redaction hook raised."""

    __slots__ = ("_lock", "redaction_failures")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.redaction_failures = 0

    def count_failure(self) -> None:
        with self._lock:
            self.redaction_failures += 1

    def reset(self) -> None:
        with self._lock:
            self.redaction_failures = 0


content_counters = ContentCounters()


def redact_secrets(value: Any) -> Any:
    """The default redaction hook: mask values under secret-looking keys and bearer credentials.

    Keys matching :data:`SENSITIVE_KEY` (``password``, ``api_key``, ``token``,
    ``authorization``, ``secret``, ``cookie``, ...) at any depth — including argument
    names and dataclass fields — get ``"[REDACTED]"``; inside strings, ``Bearer …``/``Basic …``
    credentials and ``name=value``/``name: value`` with a secret-looking name (a repr, a URL
    query) have the value masked. A safety net for the obvious, not a guarantee: pass your own ``redact=`` for
    anything your application knows to be sensitive.
    """
    if isinstance(value, str):
        if _SENSITIVE_VALUE.search(value) is None and _SENSITIVE_ASSIGNMENT.search(value) is None:
            return value  # the same object: a string cut before redaction keeps its full length
        value = _SENSITIVE_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        return _SENSITIVE_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", value)
    if isinstance(value, dict):
        return {k: REDACTED if SENSITIVE_KEY.search(k) else redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


# --------------------------------------------------------------------------- arguments


def make_binder(func: Callable[..., Any]) -> Binder:
    """A function from a call's ``(args, kwargs)`` to ``{parameter name: value}``; the signature is read now, once."""
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None
    skip_first = False
    if signature is not None:
        params = list(signature.parameters)
        skip_first = bool(params) and params[0] in ("self", "cls")

    def bind(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        if signature is not None:
            try:
                bound = signature.bind_partial(*args, **kwargs).arguments
            except Exception:  # the call does not match the signature: the function will raise it
                pass
            else:
                out = dict(bound)
                if skip_first:
                    out.pop(next(iter(signature.parameters)), None)
                return out
        out = {f"args[{i}]": a for i, a in enumerate(args)}
        out.update(kwargs)
        return out

    return bind


# --------------------------------------------------------------------------- rendering


def _clean(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: OTLP needs valid UTF-8
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _repr(value: object, limit: int) -> str:
    return _clean(shown(value, limit))


class _Cut(str):
    """A string shortened before redaction; ``full`` is how long it was (for the ``…[+N chars]`` mark)."""

    full: int


def _cut(text: str, keep: int) -> str:
    """*text* cut to *keep* characters (marked with its full length), then made valid UTF-8:
    cut first, so that a 50 MB string costs what its kept part costs."""
    if len(text) <= keep:
        return _clean(text)
    out = _Cut(_clean(text[:keep]))
    out.full = len(text)
    return out


def to_json_values(value: Any, limit: int) -> Any:
    """*value* as JSON values (see the module docstring); never raises.

    Bounded work whatever the value: at most ``MAX_NODES`` values are converted (the rest
    become a ``…`` mark) and strings are kept to ``max(4 × limit, limit + 4096)`` characters —
    both far more than a text of *limit* characters can show, so the redaction hook still sees
    everything that can be recorded.
    """
    budget = [MAX_NODES]
    keep = max(4 * limit, limit + 4096)

    def convert(value: Any, depth: int) -> Any:
        budget[0] -= 1
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, _Cut):  # already cut (the second pass, after redaction)
            return value
        if isinstance(value, str):
            return _cut(value if type(value) is str else str.__str__(value), keep)
        if isinstance(value, int):
            return int(value) if abs(value) < 1 << 63 else _repr(value, limit)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else repr(float(value))
        if depth >= MAX_DEPTH:
            return _repr(value, limit)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):  # by field, so keys can be redacted
            try:
                fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            except Exception:
                return _repr(value, limit)
            return convert(fields, depth)
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            try:
                for i, (k, v) in enumerate(value.items()):
                    if i == MAX_ITEMS or budget[0] <= 0:
                        out["…"] = f"+{len(value) - i} keys"
                        break
                    key = _clean(k) if type(k) is str else _repr(k, 200)
                    out[key] = convert(v, depth + 1)
            except Exception:
                return _repr(value, limit)
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            items: list[Any] = []
            try:
                for i, v in enumerate(value):
                    if i == MAX_ITEMS or budget[0] <= 0:
                        items.append(f"…[+{len(value) - i} items]")
                        break
                    items.append(convert(v, depth + 1))
            except Exception:
                return _repr(value, limit)
            return items
        return _repr(value, limit)

    return convert(value, 0)


def _shrink(value: Any, text_cap: int, item_cap: int) -> Any:
    if isinstance(value, str):
        full = getattr(value, "full", len(value))
        return value if full <= text_cap else f"{value[:text_cap]}…[+{full - text_cap} chars]"
    if isinstance(value, dict):
        out = {}
        for i, (k, v) in enumerate(value.items()):
            if i == item_cap:
                out["…"] = f"+{len(value) - item_cap} keys"
                break
            out[_shrink(k, text_cap, item_cap)] = _shrink(v, text_cap, item_cap)
        return out
    if isinstance(value, list):
        items = [_shrink(v, text_cap, item_cap) for v in value[:item_cap]]
        if len(value) > item_cap:
            items.append(f"…[+{len(value) - item_cap} items]")
        return items
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def fit(value: Any, limit: int) -> str:
    """JSON text of *value* of at most *limit* characters, shortened inside so it stays valid JSON."""
    text = _dumps(value)
    if len(text) <= limit:
        return text
    text_cap, item_cap = limit, MAX_ITEMS
    while text_cap >= 8:
        text_cap //= 2
        item_cap = max(1, item_cap // 2)
        shortened = _dumps(_shrink(value, text_cap, item_cap))
        if len(shortened) <= limit:
            return shortened
    return _dumps(f"[truncated: {len(text)} chars]")


def render_content(value: Any, redact: Callable[[Any], Any], limit: int) -> str | None:
    """*value* as redacted, length-limited JSON text; None when it must not be recorded."""
    data = to_json_values(value, limit)
    try:
        data = redact(data)
    except Exception as exc:
        content_counters.count_failure()
        _logger.warning("the redaction hook raised %s; the step's content is not recorded", type(exc).__name__)
        return None
    try:
        return fit(to_json_values(data, limit), limit)
    except Exception:
        report_internal_error("rendering a step's content", logger=_logger)
        return None


def _cut_text(text: str, full: int, limit: int) -> str:
    """*text* (of *full* characters before any cut) in at most *limit* characters, marked ``…[+N chars]`` when cut."""
    if full <= limit:
        return text
    keep = limit
    while keep > 0:  # the mark's length depends on how much is kept: a few rounds at most
        mark = f"…[+{full - keep} chars]"
        if keep + len(mark) <= limit:
            return text[:keep] + mark
        keep = min(keep - 1, limit - len(mark))
    return text[:limit]


def render_text(text: str, redact: Callable[[Any], Any], limit: int) -> str | None:
    """Captured plain text (the request text, a memory query): the redaction hook gets the string,
    the result is at most *limit* characters (a cut text ends with ``…[+N chars]``); None when it
    must not be recorded. A hook that returns something other than a string gets it recorded as
    JSON text, like :func:`render_content`. Never raises."""
    data = to_json_values(text, limit)
    try:
        data = redact(data)
    except Exception as exc:
        content_counters.count_failure()
        _logger.warning("the redaction hook raised %s; the text is not recorded", type(exc).__name__)
        return None
    try:
        if data is None:
            return None
        if not isinstance(data, str):
            return fit(to_json_values(data, limit), limit)
        full = getattr(data, "full", len(data))
        return _cut_text(_clean(str.__str__(data)), full, limit)
    except Exception:
        report_internal_error("rendering captured text", logger=_logger)
        return None
