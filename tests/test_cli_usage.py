"""``miolumi usage``: table with a chart, CSV and JSON, filters, bad input."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from miolumi.cli import app
from miolumi.config import load_settings
from miolumi.core.cost import Attribution, Call, CostTracker, Units

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout

runner = CliRunner()


def seed() -> None:
    tracker = CostTracker(settings=load_settings())
    now = datetime.now(UTC)
    calls = [
        (now, "ada", "lumi", None, "gpt-4o-mini", 1000, 100),
        (now, "bob", "mio", "mio", "gpt-4o-mini", 2000, 200),
        (now - timedelta(days=2), "ada", "lumi", None, "gpt-4o", 1000, 0),
        (now - timedelta(days=20), "ada", "lumi", None, "gpt-4o", 1000, 0),
    ]
    for when, user, product, agent, model, tokens_in, tokens_out in calls:
        tracker.ledger.record(
            Call(
                started_at=when,
                attribution=Attribution(user_id=user, product=product, agent_id=agent),
                kind="llm",
                provider="openai",
                model=model,
                units=Units(input_tokens=tokens_in, output_tokens=tokens_out),
                local=False,
                latency_ms=5.0,
            )
        )
    tracker.flush()


def test_usage_by_user_as_json() -> None:
    seed()
    result = runner.invoke(app, ["usage", "--by", "user", "--since", "7d", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = {row["key"]: row for row in json.loads(result.output)}
    # ada: 1000 in + 100 out on gpt-4o-mini, and 1000 in on gpt-4o two days ago.
    assert data["ada"]["calls"] == 2
    assert data["ada"]["cost"] == "0.00271"  # 0.00015 + 0.00006 + 0.0025
    assert data["bob"]["cost"] == "0.00042"


def test_usage_filters_by_user_and_writes_csv(tmp_path: Path) -> None:
    seed()
    out = tmp_path / "usage.csv"
    result = runner.invoke(
        app,
        ["usage", "--user", "ada", "--since", "30d", "--by", "model", "-f", "csv", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["key"], r["calls"]) for r in rows] == [
        ("openai:gpt-4o", "2"),
        ("openai:gpt-4o-mini", "1"),
    ]


def test_usage_table_has_a_per_day_chart() -> None:
    seed()
    result = runner.invoke(app, ["usage", "--since", "7d"])
    assert result.exit_code == 0, result.output
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    chart = [line for line in result.output.splitlines() if line.startswith(today)]
    assert chart and "█" in chart[0] and "$0.000630" in chart[0]
    assert "total" in result.output and "$0.003130" in result.output


def test_usage_groups_and_bad_input() -> None:
    seed()
    persona = runner.invoke(app, ["usage", "--by", "persona", "-f", "json"])
    assert {row["key"] for row in json.loads(persona.output)} == {"(none)", "mio"}
    bad = runner.invoke(app, ["usage", "--since", "yesterday"])
    assert bad.exit_code == 2 and "use a span such as 7d" in bad.output
    empty = runner.invoke(app, ["usage", "--user", "nobody"])
    assert empty.exit_code == 0 and "No calls of nobody" in empty.output
