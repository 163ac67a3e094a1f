"""`python -m services.mailer.worker`: the mailer worker (its queue and its outbox relay)."""

from __future__ import annotations

from arq.cron import cron

from services.kit.worker import WorkerSpec, serve_worker
from services.mailer.answers.tasks import answer_jobs
from services.mailer.forwarding.tasks import forward_jobs
from services.mailer.models import outbox
from services.mailer.readmodels import readmodel_jobs
from services.mailer.sequence.tasks import prepare, sequence_jobs, sweep_sequence
from services.mailer.settings import Settings
from services.mailer.suppression.tasks import suppression_jobs
from services.mailer.transactional.tasks import send_email_job, sweep_cron


def spec(settings: Settings | None = None) -> WorkerSpec:
    """What the mailer worker runs."""
    settings = settings or Settings()
    return WorkerSpec(
        settings=settings,
        functions=[
            send_email_job(settings),
            *sequence_jobs(settings),
            *readmodel_jobs(),
            *suppression_jobs(),
            *answer_jobs(),
            *forward_jobs(),
        ],
        cron_jobs=[
            sweep_cron(),
            cron(sweep_sequence, name="sweep_sequence", second=30, unique=True),
        ],
        outbox=outbox,
        prepare=prepare,
    )


if __name__ == "__main__":
    serve_worker(spec())
