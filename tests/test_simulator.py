"""The bundled Letta simulator follows the documented Jobs API semantics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from naftiko_runtime.simulators.letta import LettaState, build_simulator

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    app = build_simulator(LettaState.seeded(clock), token="secret-token")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sim", headers={"Authorization": "Bearer secret-token"}
    ) as c:
        yield c


async def jobs(client: httpx.AsyncClient, query: str = "") -> list[dict[str, object]]:
    response = await client.get("/v1/jobs/" + query)
    assert response.status_code == 200
    result: list[dict[str, object]] = response.json()
    return result


async def test_requires_the_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/jobs/", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


async def test_status_lifecycle_follows_the_clock(client: httpx.AsyncClient, clock: Clock) -> None:
    fresh = [j for j in await jobs(client) if j["status"] == "created"]
    assert len(fresh) == 1
    job_id = fresh[0]["id"]
    seen = []
    for seconds in (1, 2, 3, 599):
        clock.now += seconds
        seen.append((await client.get(f"/v1/jobs/{job_id}")).json()["status"])
    assert seen == ["created", "pending", "running", "completed"]
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["completed_at"] is not None


async def test_cancel_running_job_and_reject_finished(client: httpx.AsyncClient) -> None:
    all_jobs = await jobs(client)
    running = next(j["id"] for j in all_jobs if j["status"] == "running")
    done = next(j["id"] for j in all_jobs if j["status"] == "completed")
    cancelled = await client.patch(f"/v1/jobs/{running}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.patch(f"/v1/jobs/{running}/cancel")
    assert again.status_code == 409
    rejected = await client.patch(f"/v1/jobs/{done}/cancel")
    assert rejected.status_code == 409
    assert rejected.json()["error"]["type"] == "invalid_job_status_transition"
    assert rejected.json()["error"]["details"] == {
        "current_status": "completed",
        "requested_status": "cancelled",
    }


async def test_unknown_and_deleted_jobs_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/jobs/job-nope")).status_code == 404
    job_id = (await jobs(client))[0]["id"]
    assert (await client.delete(f"/v1/jobs/{job_id}")).status_code == 200
    assert (await client.get(f"/v1/jobs/{job_id}")).status_code == 404
    assert (await client.delete(f"/v1/jobs/{job_id}")).status_code == 404


async def test_cursor_pagination(client: httpx.AsyncClient) -> None:
    ascending = [j["id"] for j in await jobs(client, "?order=asc")]
    descending = [j["id"] for j in await jobs(client, "?order=desc")]
    assert descending == list(reversed(ascending)) and len(ascending) == 6
    assert [j["id"] for j in await jobs(client, "?order=asc&limit=2")] == ascending[:2]
    after = [j["id"] for j in await jobs(client, f"?order=asc&after={ascending[1]}&limit=3")]
    assert after == ascending[2:5]
    before = [j["id"] for j in await jobs(client, f"?order=asc&before={ascending[4]}&limit=2")]
    assert before == ascending[2:4]
    assert await jobs(client, f"?order=asc&after={ascending[-1]}") == []
    assert (await client.get("/v1/jobs/?limit=many")).status_code == 422


async def test_active_filter_and_endpoint_agree(client: httpx.AsyncClient) -> None:
    active = {j["id"] for j in await jobs(client, "?active=true")}
    response = await client.get("/v1/jobs/active")
    assert {j["id"] for j in response.json()} == active and len(active) == 2


async def test_runs_messages_steps_usage_and_stream(client: httpx.AsyncClient) -> None:
    runs = (await client.get("/v1/runs/")).json()
    run = next(r for r in runs if r["status"] == "completed")["id"]
    messages = (await client.get(f"/v1/runs/{run}/messages")).json()
    assert [m["message_type"] for m in messages] == ["user_message", "assistant_message"]
    usage = (await client.get(f"/v1/runs/{run}/usage")).json()
    steps = (await client.get(f"/v1/runs/{run}/steps")).json()
    assert usage["total_tokens"] == sum(s["total_tokens"] for s in steps)
    stream = await client.post(f"/v1/runs/{run}/stream", json={"starting_after": 1})
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [line for line in stream.text.split("\n\n") if line]
    assert events[0].startswith("data: {") and "assistant_message" in events[0]
    assert events[-1] == "data: [DONE]" and "stop_reason" in events[-2]
