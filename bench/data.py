"""The fixed Letta-like payloads every upstream in the benchmark serves (5 jobs, ~2 KB)."""

from __future__ import annotations

import json

JOBS = [
    {
        "id": f"job-123e4567-e89b-42d3-8456-42661417400{n}",
        "status": ["completed", "running", "failed", "completed", "created"][n],
        "created_at": f"2026-11-0{n + 1}T09:00:00.000000Z",
        "updated_at": f"2026-11-0{n + 1}T09:10:00.000000Z",
        "completed_at": None if n in (1, 4) else f"2026-11-0{n + 1}T09:10:00.000000Z",
        "metadata": {"source_id": f"source-{n}", "type": "file_ingestion", "chunks": 150 + n},
        "job_type": "job",
        "background": True,
        "agent_id": f"agent-00{n}",
        "callback_url": None,
        "callback_status_code": None,
        "ttft_ns": 1_500_000_000 + n,
        "total_duration_ns": 9_000_000_000 + n,
        "created_by_id": "user-1",
    }
    for n in range(5)
]
JOB_ID = JOBS[0]["id"]
LIST_BODY = json.dumps(JOBS).encode()
ONE_BODY = json.dumps(JOBS[0]).encode()
TOKEN = "bench-token-4b1d"
