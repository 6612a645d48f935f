"""A Letta-compatible upstream for local runs and tests: Jobs and Runs, stateful, in memory.

Follows the documented semantics of the Letta Jobs API: bearer authentication, the status
lifecycle (created → pending → running → completed, cancellable until terminal), 404 for
unknown ids, 409 when cancelling a finished job, and cursor pagination with before/after/
limit/order. The clock is injectable so tests can move time.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

TERMINAL = ("completed", "failed", "cancelled", "expired")
ACTIVE = ("created", "pending", "running")
# seconds after creation at which a live job or run reaches each status
LIFECYCLE = (("created", 0.0), ("pending", 2.0), ("running", 4.0), ("completed", 600.0))
EPOCH = datetime(2026, 11, 1, 9, 0, tzinfo=UTC).timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _id(prefix: str, n: int) -> str:
    return f"{prefix}-{uuid.UUID(int=(0x5EED << 96) | n, version=4)}"


def _json(status: int, payload: Any) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


@dataclass
class Record:
    """A job or run: fixed fields plus a status that follows the lifecycle while live."""

    id: str
    created: float
    fields: dict[str, Any]
    live: bool = False
    status: str = "completed"
    completed: float | None = None

    def current_status(self, now: float) -> str:
        if not self.live or self.status in TERMINAL:
            return self.status
        reached = self.status
        for status, after in LIFECYCLE:
            if now - self.created >= after:
                reached = status
        if reached == "completed":
            self.status, self.completed, self.live = (
                "completed",
                self.created + LIFECYCLE[-1][1],
                False,
            )
        return reached


@dataclass
class LettaState:
    """All simulated data; `clock` gives the current time in seconds."""

    clock: Callable[[], float] = time.time
    jobs: dict[str, Record] = field(default_factory=dict)
    runs: dict[str, Record] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    steps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def seeded(cls, clock: Callable[[], float] = time.time) -> LettaState:
        state = cls(clock=clock)
        now = clock()
        statuses = ["completed", "completed", "failed", "cancelled", "running", "created"]
        for n, status in enumerate(statuses):
            created = EPOCH + n * 3600
            live = status in ACTIVE
            started = now - (5.0 if status == "running" else 0.0)
            job = Record(
                _id("job", n + 1),
                started if live else created,
                {
                    "job_type": "job",
                    "background": True,
                    "agent_id": None,
                    "metadata": {"source_id": _id("source", 1 + n % 2), "type": "file_ingestion"},
                    "callback_url": None,
                    "callback_sent_at": None,
                    "callback_status_code": None,
                    "callback_error": None,
                    "ttft_ns": None,
                    "total_duration_ns": None,
                    "created_by_id": _id("user", 1),
                    "last_updated_by_id": _id("user", 1),
                    "stop_reason": None,
                },
                live=live,
                status="created" if live else status,
            )
            if status in TERMINAL:
                job.completed = created + 600
                job.fields["total_duration_ns"] = 600 * 10**9
            state.jobs[job.id] = job
        for n, status in enumerate(["completed", "completed", "failed", "running", "created"]):
            created = EPOCH + n * 1800
            live = status in ACTIVE
            run_id = _id("run", n + 1)
            agent = _id("agent", 1 + n % 2)
            started = now - (5.0 if status == "running" else 0.0)
            run = Record(
                run_id,
                started if live else created,
                {
                    "agent_id": agent,
                    "conversation_id": None,
                    "base_template_id": None,
                    "background": n % 2 == 0,
                    "metadata": {},
                    "request_config": None,
                    "stop_reason": "end_turn"
                    if status == "completed"
                    else ("error" if status == "failed" else None),
                    "callback_url": None,
                    "callback_sent_at": None,
                    "callback_status_code": None,
                    "callback_error": None,
                    "ttft_ns": 350_000_000,
                    "total_duration_ns": None,
                },
                live=live,
                status="created" if live else status,
            )
            if status in TERMINAL:
                run.completed = created + 12
                run.fields["total_duration_ns"] = 12 * 10**9
            state.runs[run_id] = run
            state.messages[run_id] = [
                {
                    "id": _id("message", n * 10 + 1),
                    "date": _iso(created + 1),
                    "message_type": "user_message",
                    "content": f"Summarise report {n + 1}",
                    "run_id": run_id,
                    "seq_id": 1,
                },
                {
                    "id": _id("message", n * 10 + 2),
                    "date": _iso(created + 5),
                    "message_type": "assistant_message",
                    "content": f"Report {n + 1}: all systems nominal.",
                    "run_id": run_id,
                    "seq_id": 2,
                },
            ]
            state.steps[run_id] = [
                {
                    "id": _id("step", n * 10 + k),
                    "run_id": run_id,
                    "agent_id": agent,
                    "provider_name": "openai",
                    "model": "gpt-4o-mini",
                    "completion_tokens": 40 * k,
                    "prompt_tokens": 900,
                    "total_tokens": 900 + 40 * k,
                    "stop_reason": "end_turn",
                    "tags": [],
                    "messages": [],
                    "status": "success",
                }
                for k in (1, 2)
            ]
        return state

    def job_json(self, job: Record) -> dict[str, Any]:
        status = job.current_status(self.clock())
        updated = job.completed or job.created
        return {
            "id": job.id,
            "status": status,
            "created_at": _iso(job.created),
            "updated_at": _iso(updated),
            "completed_at": _iso(job.completed) if job.completed else None,
            **job.fields,
        }

    def run_json(self, run: Record) -> dict[str, Any]:
        status = run.current_status(self.clock())
        return {
            "id": run.id,
            "status": status,
            "created_at": _iso(run.created),
            "completed_at": _iso(run.completed) if run.completed else None,
            **run.fields,
        }


# ------------------------------------------------------------------ helpers
def _not_found(kind: str, ident: str) -> Response:
    return _json(404, {"detail": f"{kind} {ident} not found"})


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "1", "yes")


def _limit(request: Request, default: int) -> int | Response:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return _json(
            422,
            {
                "detail": [
                    {"loc": ["query", "limit"], "msg": "must be an integer", "type": "int_parsing"}
                ]
            },
        )
    return max(0, min(value, 1000))


def _paginate(
    request: Request, items: list[dict[str, Any]], default_limit: int, ascending_default: bool
) -> list[dict[str, Any]] | Response:
    """Sort by created_at, then apply before/after cursors (ids) and limit."""
    order = request.query_params.get("order")
    ascending_flag = _flag(request.query_params.get("ascending"))
    if order is not None and order not in ("asc", "desc"):
        return _json(
            422,
            {"detail": [{"loc": ["query", "order"], "msg": "must be asc or desc", "type": "enum"}]},
        )
    ascending = (
        order == "asc"
        if order
        else (ascending_flag if ascending_flag is not None else ascending_default)
    )
    key = "created_at" if items and "created_at" in items[0] else "date"
    ordered = sorted(
        items, key=lambda item: (item.get(key) or "", item["id"]), reverse=not ascending
    )
    ids = [item["id"] for item in ordered]
    after, before = request.query_params.get("after"), request.query_params.get("before")
    start, end = 0, len(ordered)
    if after is not None:
        start = ids.index(after) + 1 if after in ids else len(ordered)
    if before is not None:
        end = ids.index(before) if before in ids else 0
    limit = _limit(request, default_limit)
    if isinstance(limit, Response):
        return limit
    window = ordered[start:end]
    # with only `before`, the page is the one just before the cursor
    if before is not None and after is None:
        return window[-limit:] if limit else []
    return window[:limit]


# ------------------------------------------------------------------ the app
def build_simulator(state: LettaState | None = None, token: str | None = None) -> Starlette:
    """The simulator app; with `token`, requests must carry `Authorization: Bearer <token>`."""
    state = state or LettaState.seeded()

    def authorised(request: Request) -> bool:
        if token is None:
            return True
        header = request.headers.get("authorization", "")
        return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def wrapper(request: Request) -> Response:
            if not authorised(request):
                return _json(401, {"detail": "Unauthorized: missing or invalid bearer token"})
            result = handler(request)
            if asyncio.iscoroutine(result):
                result = await result
            assert isinstance(result, Response)
            return result

        return wrapper

    # jobs
    def list_jobs(request: Request, active_only: bool = False) -> Response:
        jobs = [state.job_json(job) for job in state.jobs.values()]
        source = request.query_params.get("source_id")
        if source:
            jobs = [j for j in jobs if (j.get("metadata") or {}).get("source_id") == source]
        if active_only or _flag(request.query_params.get("active")):
            jobs = [j for j in jobs if j["status"] in ACTIVE]
        page = _paginate(request, jobs, 50 if active_only else 100, ascending_default=active_only)
        return page if isinstance(page, Response) else _json(200, page)

    def get_job(request: Request) -> Response:
        job = state.jobs.get(request.path_params["job_id"])
        return (
            _json(200, state.job_json(job))
            if job
            else _not_found("Job", request.path_params["job_id"])
        )

    def delete_job(request: Request) -> Response:
        job = state.jobs.pop(request.path_params["job_id"], None)
        return (
            _json(200, state.job_json(job))
            if job
            else _not_found("Job", request.path_params["job_id"])
        )

    def cancel_job(request: Request) -> Response:
        job = state.jobs.get(request.path_params["job_id"])
        if job is None:
            return _not_found("Job", request.path_params["job_id"])
        current = job.current_status(state.clock())
        if current in TERMINAL:
            return _json(
                409,
                {
                    "error": {
                        "type": "invalid_job_status_transition",
                        "message": f"Cannot transition from '{current}' to 'cancelled'",
                        "details": {"current_status": current, "requested_status": "cancelled"},
                    }
                },
            )
        job.status, job.live, job.completed = "cancelled", False, state.clock()
        job.fields["stop_reason"] = "cancelled"
        return _json(200, state.job_json(job))

    # runs
    def run_or_404(request: Request) -> Record | Response:
        run = state.runs.get(request.path_params["run_id"])
        return run if run else _not_found("Run", request.path_params["run_id"])

    def list_runs(request: Request, active_only: bool = False) -> Response:
        runs = [state.run_json(run) for run in state.runs.values()]
        params = request.query_params
        agents = params.getlist("agent_ids") + params.getlist("agent_id")
        if agents:
            runs = [r for r in runs if r["agent_id"] in agents]
        statuses = params.getlist("statuses")
        if statuses:
            runs = [r for r in runs if r["status"] in statuses]
        background = _flag(params.get("background"))
        if background is not None:
            runs = [r for r in runs if r["background"] is background]
        if params.get("stop_reason"):
            runs = [r for r in runs if r["stop_reason"] == params["stop_reason"]]
        if params.get("conversation_id"):
            runs = [r for r in runs if r["conversation_id"] == params["conversation_id"]]
        if active_only or _flag(params.get("active")):
            runs = [r for r in runs if r["status"] in ACTIVE]
        if active_only:
            return _json(200, runs)
        page = _paginate(request, runs, 100, ascending_default=False)
        return page if isinstance(page, Response) else _json(200, page)

    def get_run(request: Request) -> Response:
        run = run_or_404(request)
        return run if isinstance(run, Response) else _json(200, state.run_json(run))

    def delete_run(request: Request) -> Response:
        run = run_or_404(request)
        if isinstance(run, Response):
            return run
        del state.runs[run.id]
        return _json(200, {})

    def run_messages(request: Request) -> Response:
        run = run_or_404(request)
        if isinstance(run, Response):
            return run
        page = _paginate(request, list(state.messages.get(run.id, [])), 100, ascending_default=True)
        return page if isinstance(page, Response) else _json(200, page)

    def run_steps(request: Request) -> Response:
        run = run_or_404(request)
        if isinstance(run, Response):
            return run
        steps = [
            {**s, "created_at": _iso(run.created + i)}
            for i, s in enumerate(state.steps.get(run.id, []))
        ]
        page = _paginate(request, steps, 100, ascending_default=True)
        if isinstance(page, Response):
            return page
        return _json(200, [{k: v for k, v in s.items() if k != "created_at"} for s in page])

    def run_usage(request: Request) -> Response:
        run = run_or_404(request)
        if isinstance(run, Response):
            return run
        steps = state.steps.get(run.id, [])
        completion = sum(s["completion_tokens"] for s in steps)
        prompt = sum(s["prompt_tokens"] for s in steps)
        return _json(
            200,
            {
                "completion_tokens": completion,
                "prompt_tokens": prompt,
                "total_tokens": completion + prompt,
            },
        )

    def run_metrics(request: Request) -> Response:
        run = run_or_404(request)
        if isinstance(run, Response):
            return run
        return _json(
            200,
            {
                "id": run.id,
                "agent_id": run.fields["agent_id"],
                "project_id": None,
                "run_start_ns": int(run.created * 10**9),
                "run_ns": run.fields["total_duration_ns"],
                "num_steps": len(state.steps.get(run.id, [])),
                "tools_used": [],
                "template_id": None,
                "base_template_id": None,
            },
        )

    def run_trace(request: Request) -> Response:
        run = run_or_404(request)
        if isinstance(run, Response):
            return run
        limit = _limit(request, 1000)
        if isinstance(limit, Response):
            return limit
        spans = [
            {"span_name": f"step-{i + 1}", "run_id": run.id, "duration_ms": 400 + 50 * i}
            for i in range(len(state.steps.get(run.id, [])))
        ]
        return _json(200, spans[:limit])

    async def run_stream(request: Request) -> Response:
        run = run_or_404(request)
        if isinstance(run, Response):
            return run
        raw = await request.body()
        try:
            options = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return _json(422, {"detail": "request body is not JSON"})
        starting_after = int((options or {}).get("starting_after") or 0)
        messages = [m for m in state.messages.get(run.id, []) if m["seq_id"] > starting_after]
        status = state.run_json(run)["status"]

        async def events() -> Any:
            for message in messages:
                yield b"data: " + orjson.dumps(message) + b"\n\n"
                await asyncio.sleep(0)
            if status in TERMINAL:
                stop = {
                    "message_type": "stop_reason",
                    "stop_reason": run.fields.get("stop_reason") or "end_turn",
                }
                yield b"data: " + orjson.dumps(stop) + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    routes = [
        Route("/v1/jobs/", guarded(list_jobs), methods=["GET"]),
        Route("/v1/jobs/active", guarded(lambda r: list_jobs(r, True)), methods=["GET"]),
        Route("/v1/jobs/{job_id}", guarded(get_job), methods=["GET"]),
        Route("/v1/jobs/{job_id}", guarded(delete_job), methods=["DELETE"]),
        Route("/v1/jobs/{job_id}/cancel", guarded(cancel_job), methods=["PATCH"]),
        Route("/v1/runs/", guarded(list_runs), methods=["GET"]),
        Route("/v1/runs/active", guarded(lambda r: list_runs(r, True)), methods=["GET"]),
        Route("/v1/runs/{run_id}", guarded(get_run), methods=["GET"]),
        Route("/v1/runs/{run_id}", guarded(delete_run), methods=["DELETE"]),
        Route("/v1/runs/{run_id}/messages", guarded(run_messages), methods=["GET"]),
        Route("/v1/runs/{run_id}/usage", guarded(run_usage), methods=["GET"]),
        Route("/v1/runs/{run_id}/metrics", guarded(run_metrics), methods=["GET"]),
        Route("/v1/runs/{run_id}/steps", guarded(run_steps), methods=["GET"]),
        Route("/v1/runs/{run_id}/trace", guarded(run_trace), methods=["GET"]),
        Route("/v1/runs/{run_id}/stream", guarded(run_stream), methods=["POST"]),
    ]
    return Starlette(routes=routes)
