"""What every command shares: exit codes, errors, opening the store, parsing ids and times."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from ..model.trajectory import Trajectory
from ..store.base import ENV_DB, TrajectoryFilter, TrajectoryStore, resolve_db_path
from ..store.sqlite import SQLiteTrajectoryStore

__all__ = [
    "EXIT_BAD_DATA",
    "EXIT_DB",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "add_filter_options",
    "dumps_readable",
    "emit_json",
    "filter_from",
    "find_trajectory",
    "open_from",
    "parse_time",
]

EXIT_OK = 0
#: Not found, or nothing matched (search), or nothing to do (distill with too few trajectories).
EXIT_NOT_FOUND = 1
#: Usage error (argparse's own code).
EXIT_USAGE = 2
#: Bad data: an import with invalid lines, a damaged stored row.
EXIT_BAD_DATA = 3
#: The database could not be opened, read or written.
EXIT_DB = 4


class CLIError(Exception):
    """An expected failure: its message goes to stderr (no traceback) and the command exits with *code*."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def open_from(args: argparse.Namespace, *, create: bool = True) -> TrajectoryStore:
    """The store of ``--db`` / ``$TRAJECTORIES_DB``; commands that only read pass ``create=False``
    so that a mistyped path is an error (exit 4), not a new empty database."""
    if not create:
        path = resolve_db_path(getattr(args, "db", None))
        if not os.path.isfile(path):
            raise CLIError(
                f"no trajectory database at {path!r} (check --db or ${ENV_DB}; only writing commands create one)", EXIT_DB
            )
    return SQLiteTrajectoryStore(getattr(args, "db", None), create=create)


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time for ``--since``/``--until``; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or time: {text!r} (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)"
        ) from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def parse_quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"quality must be within [0, 1], got {text}")
    return value


def add_filter_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("filters")
    g.add_argument("--name", help="trajectory name (the agent name; falls back to the request type)")
    g.add_argument("--session", help="session id")
    g.add_argument("--user", help="user id")
    g.add_argument("--verdict", choices=["success", "failure", "partial", "recovered"], help="verdict kind")
    g.add_argument("--min-quality", type=parse_quality, metavar="Q", help="quality at least Q (0..1)")
    g.add_argument("--max-quality", type=parse_quality, metavar="Q", help="quality at most Q (0..1)")
    g.add_argument("--since", type=parse_time, metavar="TIME", help="started at or after TIME (ISO 8601, UTC if no zone)")
    g.add_argument("--until", type=parse_time, metavar="TIME", help="started at or before TIME")


def filter_from(args: argparse.Namespace) -> TrajectoryFilter:
    return TrajectoryFilter(
        name=args.name,
        session_id=args.session,
        user_id=args.user,
        verdict=args.verdict,
        min_quality=args.min_quality,
        max_quality=args.max_quality,
        since=args.since,
        until=args.until,
    )


def find_trajectory(store: TrajectoryStore, ref: str) -> Trajectory:
    """A trajectory by ``traj-N``, ``N`` or its uuid."""
    text = ref.strip()
    number = text.removeprefix("traj-")
    if number.isdigit():
        return store.get(int(number))
    try:
        uuid = UUID(text)
    except ValueError:
        raise CLIError(f"not a trajectory id: {ref!r} (expected traj-N, N or a uuid)", EXIT_USAGE) from None
    return store.get_by_uuid(uuid)


def emit_json(value: Any) -> None:
    """*value* as indented JSON, except that arrays of numbers (embeddings) stay on one line."""
    sys.stdout.write(dumps_readable(value))
    sys.stdout.write("\n")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def dumps_readable(value: Any, indent: int = 2, _level: int = 0) -> str:
    """``json.dumps(value, indent=2)``, with every array of numbers written compactly on one line."""
    pad = " " * (indent * (_level + 1))
    end = " " * (indent * _level)
    if isinstance(value, dict) and value:
        items = [
            f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {dumps_readable(v, indent, _level + 1)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, (list, tuple)) and value:
        if all(_is_number(x) for x in value):
            return json.dumps(list(value), allow_nan=False, separators=(",", ":"))
        return "[\n" + ",\n".join(pad + dumps_readable(v, indent, _level + 1) for v in value) + "\n" + end + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
