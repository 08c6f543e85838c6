"""The CLI edge: domain errors become one line on stderr and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from miolumi.errors import MiolumiError

#: Exit code of a usage or configuration problem the user can fix.
EXIT_USAGE = 2
#: Exit code of a run in which some turns failed.
EXIT_FAILED = 1

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def report(exc: BaseException) -> None:
    """Print ``exc`` as one line on stderr."""
    err_console.print(f"[bold red]error:[/] {exc}", markup=True)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn a `MiolumiError` escaping a command into one line and exit code 2."""
    try:
        yield
    except MiolumiError as exc:
        report(exc)
        raise typer.Exit(EXIT_USAGE) from exc
