"""``trajectories ui``: the read-only web viewer, served by uvicorn on loopback by default."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from .common import EXIT_OK, EXIT_USAGE, CLIError, open_from

__all__ = ["missing_extra", "register"]

ENV_TOKEN = "TRAJECTORIES_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def missing_extra(command: str, extra: str, exc: ImportError) -> CLIError:
    """The one-line error of a command whose optional dependencies are not installed."""
    return CLIError(
        f"`trajectories {command}` needs the {extra} extra: pip install 'trajectories[{extra}]' (missing: {exc.name})",
        EXIT_USAGE,
    )


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..ui.app import create_app
    except ImportError as exc:
        raise missing_extra("ui", "ui", exc) from None
    token = args.token or os.environ.get(ENV_TOKEN) or None
    if args.host not in LOOPBACK and token is None:
        print(
            f"trajectories: warning: serving the viewer on {args.host} without a token (--token or ${ENV_TOKEN})", file=sys.stderr
        )
    with open_from(args, create=False) as store:
        hosts = [*LOOPBACK, "[::1]"] if args.host in LOOPBACK else None
        app = create_app(store, token=token, allowed_hosts=hosts)
        shown_host = f"[{args.host}]" if ":" in args.host else args.host
        where = getattr(store, "path", "the store")
        suffix = "?token=..." if token else ""
        print(f"trajectories ui: http://{shown_host}:{args.port}/{suffix} (read-only) -> {where}", file=sys.stderr, flush=True)
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
        # uvicorn re-raises the SIGINT it handled after a graceful stop: that is the normal way out.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
        print("trajectories ui: stopped", file=sys.stderr)
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "ui",
        parents=[common],
        help="a read-only web viewer of the store (list, trajectory timeline, overview, lessons)",
        description="Serve a read-only web viewer of the store: the trajectories (filters, search by text), each "
        "trajectory's timeline with outcomes, tokens and lessons, an overview (quality over time, root causes, slow and "
        "failing actions and tools, tokens by model) and the key lessons. Bound to 127.0.0.1 unless --host says "
        "otherwise. With --token (or $TRAJECTORIES_TOKEN) every request needs 'Authorization: Bearer TOKEN'; a browser "
        "opens http://HOST:PORT/?token=TOKEN once and then keeps an HttpOnly, SameSite=Strict cookie. The database must "
        "exist (it is never created). Needs the ui extra: pip install 'trajectories[ui]'.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8321, help="port (default 8321)")
    p.add_argument("--token", default=None, help=f"require this bearer token (default ${ENV_TOKEN}; none: no check)")
    p.set_defaults(func=cmd_ui)
