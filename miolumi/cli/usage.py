"""``miolumi usage``: what the companions cost, from the usage ledger."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from miolumi.cli.errors import cli_errors
from miolumi.config import load_settings
from miolumi.core.cost.usage import UsageLine, parse_since, summarize
from miolumi.db.engine import open_database

BAR_WIDTH = 40
_UNIT_COLUMNS: list[tuple[str, Callable[[UsageLine], int | float]]] = [
    ("in tokens", lambda line: line.input_tokens),
    ("out tokens", lambda line: line.output_tokens),
    ("chars", lambda line: line.characters),
    ("audio s", lambda line: round(line.audio_seconds, 1)),
    ("images", lambda line: line.images),
]
"""Unit columns, shown when some group used that unit."""


class By(StrEnum):
    """How to group the report."""

    day = "day"
    user = "user"
    product = "product"
    persona = "persona"
    kind = "kind"
    model = "model"


class Format(StrEnum):
    """Output format."""

    table = "table"
    csv = "csv"
    json = "json"


def usage(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user.")] = None,
    since: Annotated[
        str, typer.Option("--since", "-s", help="Span (7d, 24h, 2w, 3m) or a date (2026-11-01).")
    ] = "30d",
    by: Annotated[By, typer.Option("--by", "-b", help="Group the calls by this.")] = By.day,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="table (with a chart), csv or json.")
    ] = Format.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the csv/json here, not stdout.")
    ] = None,
) -> None:
    """Show calls, units and cost per day, user, product, persona, kind or model."""
    with cli_errors():
        start = parse_since(since)
        engine = open_database(load_settings().relational_url)
        try:
            lines = summarize(engine, by=by.value, since=start, user_id=user)
        finally:
            engine.dispose()
    if fmt is Format.table:
        if output is not None:
            raise typer.BadParameter("--output needs --format csv or json.")
        _print_table(lines, by=by.value, since=since, user=user)
        return
    text = _json(lines) if fmt is Format.json else _csv(lines)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {len(lines)} row(s) to {output}")


def _json(lines: list[UsageLine]) -> str:
    return json.dumps([line.as_dict() for line in lines], indent=2) + "\n"


def _csv(lines: list[UsageLine]) -> str:
    buffer = io.StringIO()
    names = list(UsageLine.__dataclass_fields__)
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for line in lines:
        writer.writerow(line.as_dict())
    return buffer.getvalue()


def _money(value: Decimal) -> str:
    return f"${value:,.6f}"


def _print_table(lines: list[UsageLine], *, by: str, since: str, user: str | None) -> None:
    console = Console(highlight=False)
    who = f" of {user}" if user else ""
    if not lines:
        console.print(f"No calls{who} in the last {since}.")
        return
    table = Table(title=f"Usage{who}, last {since}, by {by}")
    table.add_column(by, no_wrap=True)
    table.add_column("calls", justify="right", no_wrap=True)
    units = [(title, get) for title, get in _UNIT_COLUMNS if any(get(line) for line in lines)]
    for title, _ in units:
        table.add_column(title, justify="right", no_wrap=True)
    table.add_column("cost USD", justify="right", no_wrap=True)
    for line in lines:
        table.add_row(
            line.key,
            f"{line.calls:,}",
            *[f"{get(line):,}" for _, get in units],
            _money(line.cost) + (f" (+{line.unpriced} unpriced)" if line.unpriced else ""),
        )
    total = sum((line.cost for line in lines), Decimal(0))
    table.add_section()
    calls = sum(line.calls for line in lines)
    table.add_row("total", f"{calls:,}", *[""] * len(units), _money(total))
    console.print(table)
    unpriced = sum(line.unpriced for line in lines)
    if unpriced:
        console.print(
            f"[yellow]{unpriced} call(s) have no known price and are not in the cost: "
            "give their models a price with MIOLUMI_PRICES.[/]"
        )
    if by == "day":
        _print_chart(console, lines)


def _print_chart(console: Console, lines: list[UsageLine]) -> None:
    """One bar per day, scaled to the most expensive day."""
    top = max(line.cost for line in lines)
    for line in lines:
        width = round(BAR_WIDTH * float(line.cost / top)) if top > 0 else 0
        bar = "█" * width or ("▏" if line.cost > 0 else "")
        console.print(f"{line.key}  [magenta]{bar:<{BAR_WIDTH}}[/] {_money(line.cost)}")
