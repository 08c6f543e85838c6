"""The REST API against a real uvicorn: auth, isolation between users, admin, rate limits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from miolumi.db.checkpoints import open_checkpointer
from miolumi.db.engine import open_database
from miolumi.db.schema_core import Base
from miolumi.db.schema_cost import TotalRow
from miolumi.services import Services
from miolumi.testing import ScriptedChatModel
from tests.conftest import ServicesFactory
from tests.serving import ADMIN, Served, serve

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout


def _wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_health_and_openapi_need_no_token(make_services: ServicesFactory) -> None:
    with serve(make_services()) as server:
        assert server.http.get("/healthz").json()["status"] == "ok"
        paths = server.http.get("/openapi.json").json()["paths"]
    assert {"/v1/turns", "/v1/memories", "/v1/lumi/snapshots", "/v1/admin/tokens"} <= set(paths)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer mlt_000000000000_nothing"}, {"Authorization": "Bearer x"}],
)
def test_requests_without_a_valid_token_are_refused(
    make_services: ServicesFactory, headers: dict[str, str]
) -> None:
    with serve(make_services()) as server:
        response = server.http.get("/v1/conversations", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "auth" and "miolumi token create" in error["message"]


def test_a_rest_turn_then_the_conversation_and_its_messages(
    make_services: ServicesFactory,
) -> None:
    with serve(make_services(["Hello Ada."])) as server:
        auth = server.auth(server.token("ada"))
        response = server.http.post(
            "/v1/turns", json={"text": "hi", "product": "mio", "agent_id": "kai"}, headers=auth
        )
        assert response.status_code == 200, response.text
        turn = response.json()
        listed = server.http.get("/v1/conversations", headers=auth).json()
        messages = server.http.get(
            f"/v1/conversations/{turn['thread_id']}/messages", headers=auth
        ).json()
    assert turn["reply"] == "Hello Ada." and turn["turn"] == 1
    assert turn["events"][-1]["type"] == "turn_end"
    assert [(c["thread_id"], c["agent_id"], c["turns"]) for c in listed] == [
        (turn["thread_id"], "kai", 1)
    ]
    assert messages == [
        {"role": "user", "text": "hi"},
        {"role": "companion", "text": "Hello Ada."},
    ]


def test_bad_input_names_the_fix(make_services: ServicesFactory) -> None:
    with serve(make_services()) as server:
        auth = server.auth(server.token("ada"))
        unknown = server.http.post(
            "/v1/turns", json={"text": "hi", "agent_id": "nobody"}, headers=auth
        )
        empty = server.http.post("/v1/turns", json={"text": "  "}, headers=auth)
        lumi_persona = server.http.post(
            "/v1/turns", json={"text": "hi", "product": "lumi", "agent_id": "kai"}, headers=auth
        )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_persona"
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_message"
    assert lumi_persona.status_code == 422 and "agent_id" in lumi_persona.json()["error"]["message"]


def test_the_admin_issues_lists_and_revokes_tokens(make_services: ServicesFactory) -> None:
    with serve(make_services(admin_token=ADMIN)) as server:
        admin = server.auth(ADMIN)
        issued = server.http.post("/v1/admin/tokens", json={"user_id": "cy"}, headers=admin)
        assert issued.status_code == 201
        token = issued.json()["token"]
        assert server.http.get("/v1/me", headers=server.auth(token)).json()["user_id"] == "cy"
        listed = server.http.get("/v1/admin/tokens", headers=admin).json()
        assert [t["user_id"] for t in listed] == ["cy"] and "token" not in listed[0]
        server.http.delete(f"/v1/admin/tokens/{issued.json()['id']}", headers=admin)
        assert server.http.get("/v1/me", headers=server.auth(token)).status_code == 401
        # A user's token is no admin token, and without MIOLUMI_ADMIN_TOKEN nobody is.
        user = server.auth(server.token("cy"))
        assert server.http.get("/v1/admin/tokens", headers=user).status_code == 401


def test_without_an_admin_token_setting_admin_routes_are_closed(
    make_services: ServicesFactory,
) -> None:
    with serve(make_services()) as server:
        response = server.http.get("/v1/admin/flags", headers=server.auth(ADMIN))
    assert response.status_code == 401


def test_rate_limits_apply_per_user(make_services: ServicesFactory) -> None:
    with serve(make_services(rate_limit="3/minute")) as server:
        ada, bo = server.auth(server.token("ada")), server.auth(server.token("bo"))
        codes = [server.http.get("/v1/me", headers=ada).status_code for _ in range(4)]
        limited = server.http.get("/v1/me", headers=ada)
        assert server.http.get("/v1/me", headers=bo).status_code == 200
        with server.ws(server.token("ada")) as ws:
            ws.send(type="message", text="hi")
            refused = ws.recv()
    assert codes == [200, 200, 200, 429]
    assert limited.headers["Retry-After"] and "MIOLUMI_RATE_LIMIT" in limited.text
    assert refused["type"] == "error" and refused["code"] == "rate_limited"


# --------------------------------------------------------------------- isolation


def _bo_has_everything(server: Served) -> dict[str, Any]:
    """User bo talks to Kai and to Lumi, so every kind of per-user data exists."""
    bo = server.auth(server.token("bo"))
    mio = server.http.post(
        "/v1/turns",
        json={"text": "My name is Bo and I live in Paris.", "product": "mio", "agent_id": "kai"},
        headers=bo,
    ).json()
    lumi = server.http.post(
        "/v1/turns", json={"text": "I love quiet mornings and tea.", "product": "lumi"}, headers=bo
    ).json()
    memories = _wait_for(
        lambda: server.http.get("/v1/memories", params={"agent_id": "kai"}, headers=bo).json()
    )
    snapshots = _wait_for(lambda: server.http.get("/v1/lumi/snapshots", headers=bo).json())
    assert isinstance(memories, list) and memories, memories
    assert isinstance(snapshots, list) and snapshots, snapshots
    return {
        "auth": bo,
        "mio_thread": mio["thread_id"],
        "lumi_thread": lumi["thread_id"],
        "memory": memories[0]["id"],
        "snapshot": snapshots[0]["version"],
    }


#: Every user route, and what the isolation test does with it.
_CHECKED = {
    ("GET", "/v1/me"),
    ("DELETE", "/v1/me"),
    ("DELETE", "/v1/admin/users/{user_id}"),
    ("POST", "/v1/me/adult"),
    ("GET", "/v1/personas"),
    ("GET", "/v1/personas/{agent_id}"),
    ("GET", "/v1/conversations"),
    ("GET", "/v1/conversations/{thread_id}/messages"),
    ("POST", "/v1/turns"),
    ("GET", "/v1/relationships"),
    ("GET", "/v1/relationships/{agent_id}"),
    ("GET", "/v1/memories"),
    ("GET", "/v1/memories/export"),
    ("DELETE", "/v1/memories/{memory_id}"),
    ("DELETE", "/v1/memories"),
    ("GET", "/v1/lumi/seed"),
    ("GET", "/v1/lumi/snapshots"),
    ("POST", "/v1/lumi/snapshots/{version}/rollback"),
    ("GET", "/v1/usage"),
    ("POST", "/v1/admin/tokens"),
    ("GET", "/v1/admin/tokens"),
    ("DELETE", "/v1/admin/tokens/{token_id}"),
    ("GET", "/v1/admin/usage"),
    ("GET", "/v1/admin/flags"),
}


def test_the_isolation_test_covers_every_route(make_services: ServicesFactory) -> None:
    from miolumi.server import create_app

    paths = create_app(make_services()).openapi()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1")
        for method in operations
    }
    assert routes == _CHECKED, "a route was added or removed: check it in the isolation test"


def test_a_user_can_neither_read_nor_change_another_users_anything(
    make_services: ServicesFactory,
) -> None:
    model = ScriptedChatModel(replies=["Nice to meet you, Bo."])
    services = make_services(
        model=model, lumi_seed_exchanges=1, admin_token=ADMIN, rate_limit="100000/minute"
    )
    with serve(services) as server:
        bo = _bo_has_everything(server)
        before = server.http.get("/v1/memories/export", headers=bo["auth"]).json()
        ada = server.auth(server.token("ada"))
        get, post, delete = server.http.get, server.http.post, server.http.delete

        # Reads show only ada's own (empty) world.
        assert get("/v1/me", headers=ada).json()["user_id"] == "ada"
        assert get("/v1/conversations", headers=ada).json() == []
        for thread in (bo["mio_thread"], bo["lumi_thread"]):
            missing = get(f"/v1/conversations/{thread}/messages", headers=ada)
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "conversation_not_found"
        assert get("/v1/relationships", headers=ada).json() == []
        assert get("/v1/relationships/kai", headers=ada).json()["turns"] == 0
        assert get("/v1/memories", params={"agent_id": "kai"}, headers=ada).json() == []
        assert get("/v1/memories/export", headers=ada).json()["memories"] == []
        assert get("/v1/lumi/seed", headers=ada).json() is None
        assert get("/v1/lumi/snapshots", headers=ada).json() == []
        assert get("/v1/usage", headers=ada).json() == []
        assert [p["id"] for p in get("/v1/personas", headers=ada).json()]  # public
        assert get("/v1/personas/kai", headers=ada).json()["id"] == "kai"  # public

        # Writes cannot reach bo's data.
        for thread, product, agent in (
            (bo["mio_thread"], "mio", "kai"),
            (bo["lumi_thread"], "lumi", None),
        ):
            body = {"text": "hijack", "thread_id": thread, "product": product, "agent_id": agent}
            assert post("/v1/turns", json=body, headers=ada).status_code == 404
        with server.ws(server.token("ada")) as ws:
            frames = ws.turn("hijack", thread_id=bo["lumi_thread"])
        assert frames[-1]["code"] == "conversation_not_found"
        forget = delete(f"/v1/memories/{bo['memory']}", params={"agent_id": "kai"}, headers=ada)
        assert forget.status_code == 404
        assert delete("/v1/memories", headers=ada).json() == {"deleted": 0}
        rollback = post(f"/v1/lumi/snapshots/{bo['snapshot']}/rollback", headers=ada)
        assert rollback.status_code == 404
        assert post("/v1/me/adult", headers=ada).json() == {"user_id": "ada", "age": "adult"}
        assert get("/v1/me", headers=bo["auth"]).json()["age"] == "unknown"

        # Operator routes refuse a user's token.
        for method, path in (
            ("POST", "/v1/admin/tokens"),
            ("GET", "/v1/admin/tokens"),
            ("DELETE", "/v1/admin/tokens/x"),
            ("GET", "/v1/admin/usage"),
            ("GET", "/v1/admin/flags"),
            ("DELETE", "/v1/admin/users/bo"),
        ):
            response = server.http.request(method, path, json={"user_id": "ada"}, headers=ada)
            assert response.status_code == 401, path

        # Bo's world is untouched.
        after = server.http.get("/v1/memories/export", headers=bo["auth"]).json()
        kept = {m["id"]: m["text"] for m in after["memories"]}
        assert {m["id"]: m["text"] for m in before["memories"]}.items() <= kept.items()
        messages = get(f"/v1/conversations/{bo['mio_thread']}/messages", headers=bo["auth"])
        assert [m["text"] for m in messages.json()] == [
            "My name is Bo and I live in Paris.",
            "Nice to meet you, Bo.",
        ]
        admin = server.auth(ADMIN)
        usage = get("/v1/admin/usage", params={"by": "user"}, headers=admin).json()
        assert {line["key"] for line in usage} == {"bo"}
        # Forgetting herself, ada takes nothing of bo's with her.
        assert delete("/v1/me", headers=ada).json()["user_id"] == "ada"
        assert (
            get("/v1/memories/export", headers=bo["auth"]).json()["memories"] == after["memories"]
        )
        assert get("/v1/conversations", headers=bo["auth"]).json() != []


def _rows_of(services: Services, user_id: str) -> dict[str, int]:
    """Rows that still name ``user_id``, per table (every table of the schema)."""
    engine = open_database(services.settings.relational_url)
    found = {}
    try:
        with engine.connect() as db:
            for table in Base.metadata.sorted_tables:
                for column in ("user_id", "id" if table.name == "users" else None):
                    if column and column in table.c:
                        count = db.execute(
                            select(func.count())
                            .select_from(table)
                            .where(table.c[column] == user_id)
                        ).scalar_one()
                        if count:
                            found[table.name] = count
            totals = db.execute(
                select(func.count()).select_from(TotalRow).where(TotalRow.scope == f"u:{user_id}")
            ).scalar_one()
            if totals:
                found["cost_totals"] = totals
    finally:
        engine.dispose()
    return found


async def _checkpoints(services: Services, thread: str) -> int:
    async with open_checkpointer(services.settings.checkpoint_url) as saver:
        return len([c async for c in saver.alist({"configurable": {"thread_id": thread}})])


def test_forget_me_removes_everything_of_the_user_and_nothing_else(
    make_services: ServicesFactory,
) -> None:
    model = ScriptedChatModel(replies=["Nice to meet you."])
    services = make_services(
        model=model, lumi_seed_exchanges=1, admin_token=ADMIN, rate_limit="100000/minute"
    )
    with serve(services) as server:
        bo = _bo_has_everything(server)
        ada = server.auth(server.token("ada"))
        server.http.post(
            "/v1/turns", json={"text": "I want to die", "product": "lumi"}, headers=ada
        )
        assert set(_rows_of(services, "bo")) >= {
            "users",
            "conversations",
            "relationships",
            "lumi_seeds",
            "cost_usage",
            "api_tokens",
        }
        assert asyncio.run(_checkpoints(services, bo["mio_thread"])) == 1
        ada_before = _rows_of(services, "ada")

        gone = server.http.delete("/v1/me", headers=bo["auth"])
        assert gone.status_code == 200, gone.text
        body = gone.json()
        assert body["user_id"] == "bo" and body["threads"] == 2 and body["memories"] >= 1
        assert body["usage_rows"] >= 2
        # Gone everywhere: tables, checkpoints, memories; and the token with them.
        assert _rows_of(services, "bo") == {}
        assert asyncio.run(_checkpoints(services, bo["mio_thread"])) == 0
        assert asyncio.run(_checkpoints(services, bo["lumi_thread"])) == 0
        assert services.memory.export("bo")["memories"] == []
        assert server.http.get("/v1/me", headers=bo["auth"]).status_code == 401
        # Nothing of ada's went with it (her usage rows may still be arriving).
        ada_after = _rows_of(services, "ada")
        assert all(ada_after.get(table, 0) >= n for table, n in ada_before.items())
        # The operator can do the same; forgetting twice is harmless.
        admin = server.auth(ADMIN)
        again = server.http.delete("/v1/admin/users/ada", headers=admin).json()
        assert again["threads"] == 1 and _rows_of(services, "ada") == {}
        assert server.http.delete("/v1/admin/users/ada", headers=admin).json()["threads"] == 0


def test_the_admin_lists_flags_by_persona_and_category(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["I'm here with you."])
    with serve(make_services(model=model, admin_token=ADMIN)) as server:
        user = server.auth(server.token("ada"))
        for persona in ("mio", "ash"):
            turn = {"text": "I want to die.", "product": "mio", "agent_id": persona}
            assert server.http.post("/v1/turns", json=turn, headers=user).status_code == 200
        admin = server.auth(ADMIN)
        ash = server.http.get("/v1/admin/flags?agent_id=ash", headers=admin).json()
        crisis = server.http.get("/v1/admin/flags?category=self_harm", headers=admin).json()
        typo = server.http.get("/v1/admin/flags?category=self-harm", headers=admin)
    assert [(f["user_id"], f["agent_id"], f["category"]) for f in ash] == [
        ("ada", "ash", "self_harm")
    ]
    assert sorted(f["agent_id"] for f in crisis) == ["ash", "mio"]
    assert typo.status_code == 422 and "self_harm" in typo.text
