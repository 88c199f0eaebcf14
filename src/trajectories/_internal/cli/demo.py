"""``trajectories demo``: a simulated async support agent recorded into the store."""

from __future__ import annotations

import argparse

from .common import CLIError

__all__ = ["register"]


def cmd_demo(args: argparse.Namespace) -> int:
    raise CLIError("the demo is waiting for the exporter (branch export)", 1)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", parents=[common], help="record a simulated support agent into the store and print the result")
    p.set_defaults(func=cmd_demo)
