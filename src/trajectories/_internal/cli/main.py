"""The ``trajectories`` command: argument parsing, dispatch, and exit codes.

Exit codes: 0 ok; 1 not found or nothing matched; 2 usage error; 3 bad data (invalid import
lines, a damaged stored row); 4 database error. Expected errors print one line to stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..store.base import CorruptTrajectoryError, StoreError, TrajectoryNotFoundError
from . import data_cmds, demo, learn_cmds, otlp_cmds, read_cmds, ui_cmd
from .common import EXIT_BAD_DATA, EXIT_DB, EXIT_NOT_FOUND, EXIT_USAGE, CLIError

__all__ = ["build_parser", "main"]

_EPILOG = """\
exit codes: 0 ok, 1 not found / nothing matched, 2 usage error, 3 bad data, 4 database error.
The database is --db PATH (a file, or a postgresql://user@host/db URL), else $TRAJECTORIES_DB, else ./trajectories.db."""


DB_HELP = "database file or postgresql:// URL (default: $TRAJECTORIES_DB or ./trajectories.db)"


def build_parser() -> argparse.ArgumentParser:
    # --db is accepted before or after the command name: the sub-parsers inherit it from
    # ``common`` with SUPPRESS so a value given before the command is not overwritten.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=DB_HELP,
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log warnings and details to stderr"
    )
    parser = argparse.ArgumentParser(
        prog="trajectories",
        description="Record, store, search and learn from LLM agent trajectories (ReasoningBank on OpenTelemetry).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help=DB_HELP,
    )
    parser.add_argument("-v", "--verbose", action="store_true", default=False, help="log warnings and details to stderr")
    from ... import __version__

    parser.add_argument("--version", action="version", version=f"trajectories {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo.register(sub, common)
    read_cmds.register(sub, common)
    data_cmds.register(sub, common)
    learn_cmds.register(sub, common)
    otlp_cmds.register(sub, common)
    ui_cmd.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (``python -m trajectories`` exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="trajectories: %(levelname)s: %(message)s"
    )
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    try:
        code: int = args.func(args)
    except CLIError as exc:
        return _fail(exc.message, exc.code)
    except TrajectoryNotFoundError as exc:
        return _fail(str(exc), EXIT_NOT_FOUND)
    except CorruptTrajectoryError as exc:
        return _fail(str(exc), EXIT_BAD_DATA)
    except StoreError as exc:
        return _fail(str(exc), EXIT_DB)
    except (ValueError, TypeError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except BrokenPipeError:  # e.g. `trajectories export | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    sys.stdout.flush()
    return code


def _fail(message: str, code: int) -> int:
    sys.stdout.flush()
    print(f"trajectories: error: {message}", file=sys.stderr)
    return code
