"""``python -m bench.worker_process <service>``: a service's worker process for the
benches, as ``python -m services.<service>.worker`` runs it (``serve_worker``: uvicorn
with the ops app, the arq worker and the outbox relay in its lifespan, the service's
settings from the environment), except:

- no periodic jobs (sweeps, the IMAP poll, the scheduler's tick): they find nothing
  in a run this short, arq names their jobs without the queue namespace (another
  deployment on the same Redis could not be told apart), and the tick would send the
  bench's enrolled leads their first step;
- the inbound worker starts its parse workers in ``prepare`` (else the first messages
  pay for spawning them) and, when ``BENCH_STARTED_FILE`` is set, writes there the
  wall-clock time its start-up ended (the relay starts right after): start-up is not
  throughput.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from typing import Any

from services.kit.worker import WorkerSpec, serve_worker

WARM_SAMPLE = (
    b"From: Jo <jo@example.com>\r\nTo: ava@acme.test\r\nSubject: Re: hello\r\n"
    b"Message-ID: <warm@example.com>\r\n\r\nThanks, call me next week.\r\n"
)


def _mark_started() -> None:
    started = os.environ.get("BENCH_STARTED_FILE")
    if started:
        with open(started, "w") as out:
            out.write(repr(time.time()))


def _inbound() -> WorkerSpec:
    from services.inbound.understanding import PARSE_LIMIT_BYTES, UnderstandingPool
    from services.inbound.worker import spec

    base = spec()
    prepare = base.prepare

    async def warm(ctx: dict[str, Any]) -> None:
        if prepare is not None:
            await prepare(ctx)
        pool: UnderstandingPool = ctx["understanding"]
        await asyncio.gather(
            *(
                pool.understand(WARM_SAMPLE, max_bytes=PARSE_LIMIT_BYTES)
                for _ in range(pool.workers)
            )
        )
        _mark_started()

    return dataclasses.replace(base, cron_jobs=(), prepare=warm)


def _mailer() -> WorkerSpec:
    from services.mailer.worker import spec

    return dataclasses.replace(spec(), cron_jobs=())


def _scheduler() -> WorkerSpec:
    from services.scheduler.worker import spec

    return spec(with_tick=False)


SPECS = {"inbound": _inbound, "mailer": _mailer, "scheduler": _scheduler}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SPECS:
        sys.exit(f"usage: python -m bench.worker_process {{{','.join(SPECS)}}}")
    serve_worker(SPECS[sys.argv[1]]())
