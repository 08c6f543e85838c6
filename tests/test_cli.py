"""The ``miolumi`` CLI, run as a real process against a real HTTP endpoint on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from miolumi.cli import app
from miolumi.testing import FakeOpenAIServer, free_port

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout

runner = CliRunner()


def miolumi(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "miolumi", *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8"),
        proc.stderr.decode("utf-8"),
    )


def endpoint(server: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    return {"MIOLUMI_BASE_URL": server.base_url, "MIOLUMI_MODEL": "fake-model", **extra}


def chat_requests(server: FakeOpenAIServer) -> list[list[dict[str, str]]]:
    return [r.json["messages"] for r in server.requests if r.path.endswith("/chat/completions")]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("miolumi ")


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIOLUMI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("MIOLUMI_DATABASE_URL", "postgresql://bob:hunter2@db/miolumi")
    result = runner.invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert "sk-very-secret" not in result.output
    assert "hunter2" not in result.output
    assert '"api_key": "********"' in result.output
    assert "bob:********@db" in result.output


def test_openai_fallback_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    result = runner.invoke(app, ["config", "show", "--json"])
    assert '"base_url": "http://127.0.0.1:9/v1"' in result.output


def test_unknown_env_setting_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIOLUMI_MODLE", "x")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "MIOLUMI_MODLE" in result.output
    assert "did you mean MIOLUMI_MODEL" in result.output


def test_unknown_toml_key_names_file_and_key(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text('modle = "x"\n')
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "'modle'" in result.output
    assert "config.toml" in result.output


def test_toml_values_are_used(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text("temperature = 0.2\nhistory_messages = 8\n")
    result = runner.invoke(app, ["config", "show", "--json"])
    assert '"temperature": 0.2' in result.output
    assert '"history_messages": 8' in result.output


def test_persona_and_lumi_are_exclusive() -> None:
    result = runner.invoke(app, ["chat", "--persona", "mio", "--lumi"])
    assert result.exit_code == 2
    assert "not both" in result.output


def test_a_locale_without_crisis_resources_is_refused_before_the_chat() -> None:
    result = runner.invoke(app, ["chat", "--locale", "fr-FR"], input="hi\n")
    assert result.exit_code == 2
    assert "locale 'fr-FR'" in result.output and "en-GB" in result.output


def test_piped_chat_streams_from_an_openai_compatible_endpoint() -> None:
    with FakeOpenAIServer(replies=["Hello, friend!", "You said hi."]) as server:
        result = miolumi(
            "chat", "--user", "u1", stdin=b"hi\nwhat did I just say?\n", env=endpoint(server)
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["Hello, friend!", "You said hi."]
        _, second = chat_requests(server)
        assert [m["content"] for m in second[1:]] == [
            "hi",
            "Hello, friend!",
            "what did I just say?",
        ]
        assert all(r.json.get("stream") for r in server.requests if "chat" in r.path)


def test_a_new_process_continues_the_thread() -> None:
    with FakeOpenAIServer(replies=["First reply.", "Second reply."]) as server:
        env = endpoint(server)
        assert (
            miolumi("chat", "-u", "u1", "-t", "th1", stdin=b"remember 42\n", env=env).returncode
            == 0
        )
        result = miolumi("chat", "-u", "u1", "-t", "th1", stdin=b"what number?\n", env=env)
        assert result.returncode == 0, result.stderr
        last = chat_requests(server)[-1]
        assert [m["content"] for m in last[1:]] == ["remember 42", "First reply.", "what number?"]


def test_wrong_api_key_is_one_line_naming_the_fix() -> None:
    with FakeOpenAIServer(api_key="right-key") as server:
        result = miolumi("chat", stdin=b"hi\n", env=endpoint(server, MIOLUMI_API_KEY="wrong-key"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "rejected the API key" in lines[0]
    assert "MIOLUMI_API_KEY" in lines[0]
    assert "Traceback" not in result.stderr


def test_unreachable_endpoint_is_one_line_naming_the_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = miolumi(
        "chat",
        stdin=b"hi\n",
        env={"MIOLUMI_BASE_URL": url, "MIOLUMI_MODEL": "m", "MIOLUMI_MAX_RETRIES": "0"},
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "Cannot reach the model endpoint" in result.stderr
    assert "MIOLUMI_BASE_URL" in result.stderr


def test_unknown_model_names_the_fix() -> None:
    with FakeOpenAIServer() as server:
        result = miolumi("chat", stdin=b"hi\n", env=endpoint(server, MIOLUMI_MODEL="nope"))
    assert result.returncode == 1
    assert "does not serve the model 'nope'" in result.stderr


def test_bad_lines_are_reported_and_the_rest_answered() -> None:
    stdin = b"hello\n\n" + b"x" * 100_000 + b"\n\xff\xfe bad bytes\nstill here?\n"
    with FakeOpenAIServer(replies=["one", "two"]) as server:
        result = miolumi("chat", "-u", "u1", stdin=stdin, env=endpoint(server))
        assert result.stdout.splitlines() == ["one", "two"]
        errors = result.stderr.strip().splitlines()
        assert len(errors) == 3, result.stderr
        assert "empty" in errors[0]
        assert "100,000 characters" in errors[1] and "MIOLUMI_MAX_MESSAGE_CHARS" in errors[1]
        assert "Line 4 is not valid UTF-8" in errors[2]
        assert result.returncode == 1
        # Only the good lines reached the model, and the thread holds only them.
        assert len(chat_requests(server)) == 2
        last = chat_requests(server)[-1]
        assert [m["content"] for m in last[1:]] == ["hello", "one", "still here?"]


def test_slash_commands_in_piped_mode() -> None:
    with FakeOpenAIServer(replies=["one", "two"]) as server:
        result = miolumi(
            "chat", stdin=b"hi\n/new\nfresh start\n/quit\nnever sent\n", env=endpoint(server)
        )
        assert result.returncode == 0, result.stderr
        assert "New thread:" in result.stdout
        requests = chat_requests(server)
        assert len(requests) == 2
        assert [m["content"] for m in requests[1][1:]] == ["fresh start"]


def test_lumi_and_persona_flags() -> None:
    with FakeOpenAIServer(replies=["ok"]) as server:
        assert miolumi("chat", "--lumi", stdin=b"hi\n", env=endpoint(server)).returncode == 0
        assert (
            miolumi("chat", "--persona", "mio", stdin=b"hi\n", env=endpoint(server)).returncode == 0
        )
        lumi_system, mio_system = (req[0]["content"] for req in chat_requests(server))
        assert "orb of light" in lumi_system
        assert mio_system.startswith("You are Mio.")
        result = miolumi("chat", "--persona", "ghost", stdin=b"hi\n", env=endpoint(server))
    assert result.returncode == 2
    assert "Unknown persona 'ghost'" in result.stderr
