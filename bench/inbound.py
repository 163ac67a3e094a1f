"""Inbound: messages read, classified and acted on per second, and the time from a
reply arriving to its sequence being stopped under a steady 100 replies a second.

Messages (``BENCH_INBOUND_MESSAGES``, 2,000): the checked-in corpus
(``tests/inbound/corpus``: flufl.bounce's real bounces, our samples of DSNs, ARF
reports, auto-replies in five languages and human replies, talon's replies from mail
clients) cycled to ``BENCH_INBOUND_CORPUS_SHARE`` (30 %) of them, the rest human replies
generated from the labelled intent set (``tests/inbound/intents/labelled.jsonl``, five
languages) in the shapes mail clients give them (Gmail: text and HTML alternatives
with a quote; Outlook: signature and "original message" block; iPhone: "sent from"
line and a quote). Each message gets a Message-ID of its own and an In-Reply-To (and
References) naming the step the assistant sent to one lead, seeded in inbound's read
models through its own ``readmodels`` handlers: one lead per message, each at a
company domain of its own, so no answer touches another lead's sequence.

1. Throughput. The messages are stored through ``intake.service.store`` (10 at a
   time, one transaction each as the HTTP route does, the ``inbound.message_stored``
   event in the outbox); then ``BENCH_INBOUND_WORKERS`` (1) inbound worker processes
   (``bench.worker_process inbound``: ``python -m services.inbound.worker`` as ``make
   run`` starts it, default settings: ``worker_max_jobs`` jobs at a time, its
   ``UnderstandingPool`` of ``parse_workers`` spawned processes, its outbox relay) run
   until every row is ``processed``, timed from the end of their start-up (``prepare``,
   spawning and warming the parse workers, timed apart) to the last row's
   ``processed_at``. Then the same rows, set back to ``received``, go through
   ``process()`` alone in this process (no relay, no arq), as many at a time as the
   worker runs jobs. For both, where the CPU went: each process, the parse workers,
   the PostgreSQL backends of the bench's database, and the whole machine (anything
   else running on it included). Baselines over the same bytes, in this process (best
   of ``BENCH_INBOUND_PASSES``, 3): ``email.message_from_bytes`` with ``compat32`` and
   with ``email.policy.default``, the understanding layer alone (``understand``, one
   process), the same through an ``UnderstandingPool`` as the worker makes it, and the
   rules classifier on the human replies' texts.

2. Reply -> stop latency. Each service in a process of its own, as ``make run`` and a
   deployment run them (``bench/processes.py``, with the environment the launcher
   gives each): the inbound HTTP app (``python -m services.inbound``, uvicorn), then
   ``BENCH_INBOUND_WORKERS`` inbound workers, the mailer's and the scheduler's
   workers (``bench.worker_process``); this process only generates the load, watches
   and answers SMTP. On a database of its own: leads created through the api's
   outbox (``assistant.upserted``, ``lead.upserted``: the scheduler's, mailer's and
   inbound's read models fed by their workers), enrolled (``enrollment.requested``
   through the scheduler worker, its ``enrollment.updated`` handled by the mailer),
   and the assistant's first message to each announced by the mailer's outbox
   (``message.sent`` with the lead's reply token: inbound's threads). Human replies
   (generated as above) are posted over HTTP to the assistant's inbound URL (its
   secret in the path), open loop (a POST does not wait for the previous ones): first
   ``BENCH_INBOUND_WARM`` (50) at ``BENCH_INBOUND_WARM_RATE`` (10) a second, reported
   for comparison, then ``BENCH_INBOUND_RATE`` (100) a second for
   ``BENCH_INBOUND_SECONDS`` (10). The workers run with their default settings (the
   scheduler without its tick: nothing is due); the mailer's SMTP server is a sink in
   this process, so the answers in the thread (brochure, calendar link) are sent
   without reaching anyone. Measured per reply: from just before its POST to the
   first moment a poller reading every ``BENCH_POLL_MS`` (10 ms) sees the lead's row
   in ``mailer.stops`` (which the mailer's ``queued -> transmitting`` UPDATE checks:
   from its commit, no further step reaches SMTP), and the scheduler's enrollment
   leaving ``active``; the segments from the rows' own timestamps (stored, processed,
   the stop's transaction began). The CPU line says how busy each process was: on a
   machine of few CPUs shared with other work, that is where the limit shows.

Both parts: the workers' periodic jobs (sweeps, IMAP polls, the scheduler's tick) are
left out (``bench/worker_process.py`` says why). The services' JSON logs are on at
INFO, as deployed, written to log files in a temporary directory.
``BENCH_INBOUND_PARTS`` (``throughput,latency``) picks the parts. Each part provisions
its own database and drops it, and deletes the Redis keys of its own queue namespace.
Before this file ran each service in a process of its own (commit 8125b42 to 65e6544),
everything shared the bench's event loop: those figures are not comparable.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import logging
import multiprocessing
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import compat32
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import httpx
import structlog
from aiosmtpd.smtp import SMTP
from sqlalchemy import Table, event, func, select, text, update

from bench.processes import Stack, cpu_of, descendants, free_port
from services.api.models import outbox as api_outbox
from services.inbound.intake.service import Arrival, store
from services.inbound.intents import RulesClassifier
from services.inbound.intents import dates as intent_dates
from services.inbound.intents.evaluation import LabelledReply, load_labelled
from services.inbound.models import assistants as inbound_assistants
from services.inbound.models import leads as inbound_leads
from services.inbound.models import messages as inbound_messages
from services.inbound.models import threads as inbound_threads
from services.inbound.processing.adapters import reading_of
from services.inbound.processing.service import process
from services.inbound.processing.tasks import policy as inbound_policy
from services.inbound.readmodels import on_assistant_upserted, on_lead_upserted, on_message_sent
from services.inbound.settings import Settings as InboundSettings
from services.inbound.understanding import PARSE_LIMIT_BYTES, UnderstandingPool, understand
from services.inbound.worker import close as inbound_close
from services.inbound.worker import prepare as inbound_prepare
from services.kit import dbadmin, migrations
from services.kit.crypto import SecretBox
from services.kit.db import ORG_SETTING, Database, scope_to_org
from services.kit.devstack import stack
from services.kit.ids import new_id
from services.kit.jobs import JobCall
from services.kit.logging import configure_logging
from services.kit.outbox import OutboxRelay, outbox_backlog, publish_many
from services.kit.queue import ArqQueue
from services.kit.worker import WorkerSpec
from services.mailer.models import inbox as mailer_inbox
from services.mailer.models import leads as mailer_leads
from services.mailer.models import outbox as mailer_outbox
from services.mailer.models import stops
from services.mailer.settings import Settings as MailerSettings
from services.scheduler.models import enrollments
from services.scheduler.models import leads as scheduler_leads
from services.scheduler.models import outbox as scheduler_outbox
from services.scheduler.settings import Settings as SchedulerSettings
from shared.contracts import AssistantUpserted, Contract, EventEnvelope
from shared.contracts.assistants import Mailbox
from shared.contracts.leads import EnrollmentRequested, LeadUpserted
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.contracts.sequence import EnrollmentUpdated, MessageSent
from shared.renderer.tones import Tone

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
MESSAGES = int(os.environ.get("BENCH_INBOUND_MESSAGES", "2000"))
CORPUS_SHARE = float(os.environ.get("BENCH_INBOUND_CORPUS_SHARE", "0.3"))
PASSES = int(os.environ.get("BENCH_INBOUND_PASSES", "3"))
RATE = float(os.environ.get("BENCH_INBOUND_RATE", "100"))
SECONDS = float(os.environ.get("BENCH_INBOUND_SECONDS", "10"))
WARM = int(os.environ.get("BENCH_INBOUND_WARM", "50"))
WARM_RATE = float(os.environ.get("BENCH_INBOUND_WARM_RATE", "10"))
POLL_SECONDS = float(os.environ.get("BENCH_POLL_MS", "10")) / 1000
PARTS = os.environ.get("BENCH_INBOUND_PARTS", "throughput,latency").split(",")
INBOUND_WORKERS = int(os.environ.get("BENCH_INBOUND_WORKERS", "1"))
STORE_CONCURRENCY = 10
ASSISTANTS = 4
SEED_BATCH = 250
TARGET_P99_SECONDS = 2.0

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "inbound" / "corpus"
LABELLED = ROOT / "tests" / "inbound" / "intents" / "labelled.jsonl"

SCHEDULE = ScheduleSnapshot(
    schedule_id="bench",
    name="Bench",
    steps=[
        ScheduleStep(wait=Wait(), tone=Tone.CANDID),
        ScheduleStep(wait=Wait(days=3), tone=Tone.CURIOUS),
        ScheduleStep(wait=Wait(days=4), tone=Tone.CANDID),
    ],
)

# --- the messages ------------------------------------------------------------------

ASSISTANT_NAME, ASSISTANT_EMAIL = "Ava Stone", "ava@acme.test"
SENT_AT = datetime(2025, 5, 19, 10, 12, tzinfo=UTC)

NAMES = {
    "en": [("Jordan", "Lee"), ("Claire", "Hughes"), ("Sam", "Patel"), ("Maya", "Brooks")],
    "es": [("Lucía", "García"), ("Javier", "Moreno"), ("Carmen", "Ruiz"), ("Diego", "Navarro")],
    "fr": [("Camille", "Lefèvre"), ("Julien", "Moreau"), ("Léa", "Dubois"), ("Hugo", "Girard")],
    "de": [("Jonas", "Müller"), ("Lena", "Schmidt"), ("Felix", "Weber"), ("Anna", "Becker")],
    "pt": [("João", "Silva"), ("Beatriz", "Costa"), ("Rafael", "Souza"), ("Ana", "Oliveira")],
}

OUTREACH = {
    "en": "Hi {first},\n\nI noticed {company} has been growing its fleet this year. We help "
    "logistics teams cut empty miles by about 12% with route planning that adapts to the "
    "day's orders.\n\nWould a 20-minute call next week be useful?\n\nBest,\nAva Stone\nAcme",
    "es": "Hola {first}:\n\nVi que {company} ha ampliado su flota este año. Ayudamos a equipos "
    "de logística a reducir los kilómetros en vacío en torno a un 12 % con una planificación "
    "de rutas que se adapta a los pedidos del día.\n\n¿Le vendría bien una llamada de 20 "
    "minutos la semana que viene?\n\nSaludos,\nAva Stone\nAcme",
    "fr": "Bonjour {first},\n\nJ'ai vu que {company} a agrandi sa flotte cette année. Nous "
    "aidons les équipes logistiques à réduire d'environ 12 % les kilomètres à vide grâce à "
    "une planification des tournées qui s'adapte aux commandes du jour.\n\nUn appel de 20 "
    "minutes la semaine prochaine vous serait-il utile ?\n\nCordialement,\nAva Stone\nAcme",
    "de": "Hallo {first},\n\nich habe gesehen, dass {company} dieses Jahr die Flotte vergrößert "
    "hat. Wir helfen Logistikteams, Leerkilometer um rund 12 % zu senken, mit einer "
    "Tourenplanung, die sich an die Aufträge des Tages anpasst.\n\nWäre ein 20-minütiges "
    "Gespräch nächste Woche hilfreich?\n\nViele Grüße\nAva Stone\nAcme",
    "pt": "Olá {first},\n\nVi que a {company} ampliou a frota este ano. Ajudamos equipes de "
    "logística a reduzir os quilômetros vazios em cerca de 12% com um planejamento de rotas "
    "que se adapta aos pedidos do dia.\n\nUma conversa de 20 minutos na próxima semana seria "
    "útil?\n\nAbraços,\nAva Stone\nAcme",
}

ATTRIBUTION = {
    "en": "On Mon, 19 May 2025 at 10:12, {name} <{address}> wrote:",
    "es": "El lun, 19 may 2025 a las 10:12, {name} (<{address}>) escribió:",
    "fr": "Le lun. 19 mai 2025 à 10:12, {name} <{address}> a écrit :",
    "de": "Am Mo., 19. Mai 2025 um 10:12 Uhr schrieb {name} <{address}>:",
    "pt": "Em seg., 19 de mai. de 2025 às 10:12, {name} <{address}> escreveu:",
}

# Outlook's block above the original: From, Sent, To, Subject.
OUTLOOK = {
    "en": ("From", "Sent", "To", "Subject", "Monday, May 19, 2025 10:12 AM"),
    "es": ("De", "Enviado el", "Para", "Asunto", "lunes, 19 de mayo de 2025 10:12"),
    "fr": ("De", "Envoyé", "À", "Objet", "lundi 19 mai 2025 10:12"),
    "de": ("Von", "Gesendet", "An", "Betreff", "Montag, 19. Mai 2025 10:12"),
    "pt": ("De", "Enviado", "Para", "Assunto", "segunda-feira, 19 de maio de 2025 10:12"),
}

SENT_FROM = {
    "en": "Sent from my iPhone",
    "es": "Enviado desde mi iPhone",
    "fr": "Envoyé de mon iPhone",
    "de": "Von meinem iPhone gesendet",
    "pt": "Enviado do meu iPhone",
}

STYLES = ("gmail", "outlook", "iphone")


@dataclass(frozen=True)
class Lead:
    lead_id: uuid.UUID
    assistant_id: uuid.UUID
    first: str
    last: str
    company: str
    email: str
    thread: str  # the Message-ID (no brackets) of the step the lead answers


@dataclass(frozen=True)
class Sample:
    """One message of the corpus, in the thread of ``lead``."""

    lead: Lead
    raw: bytes
    source: str


def _lead(index: int, assistant_id: uuid.UUID, language: str) -> Lead:
    first, last = NAMES[language][index % len(NAMES[language])]
    company = f"Company {index}"
    local = f"{first}.{last}".lower().encode("ascii", "ignore").decode()
    return Lead(
        lead_id=uuid.uuid4(),
        assistant_id=assistant_id,
        first=first,
        last=last,
        company=company,
        email=f"{local}@company{index}.example",
        thread=f"{uuid.uuid4().hex}@mail.acme.test",
    )


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def generated_reply(reply: LabelledReply, lead: Lead, style: str) -> bytes:
    """A human reply with ``reply.text`` as its new text, as ``style``'s client sends it."""
    language = reply.language
    outreach = OUTREACH[language].format(first=lead.first, company=lead.company)
    attribution = ATTRIBUTION[language].format(name=ASSISTANT_NAME, address=ASSISTANT_EMAIL)
    signature = f"{lead.first} {lead.last}\n{lead.company}\n+1 555 0100"
    message = EmailMessage()
    message["From"] = f"{lead.first} {lead.last} <{lead.email}>"
    message["To"] = f"{ASSISTANT_NAME} <{ASSISTANT_EMAIL}>"
    message["Subject"] = reply.subject
    message["Date"] = format_datetime(SENT_AT + timedelta(hours=3))
    message["Message-ID"] = f"<{uuid.uuid4().hex}@mail.company.example>"
    message["In-Reply-To"] = f"<{lead.thread}>"
    message["References"] = f"<{lead.thread}>"
    if style == "gmail":
        message.set_content(f"{reply.text}\n\n{attribution}\n\n{_quoted(outreach)}\n")
        paragraphs = "".join(
            f"<div>{line or '<br>'}</div>" for line in (reply.text + "\n\n" + signature).split("\n")
        )
        quote = "<br>".join(outreach.split("\n"))
        message.add_alternative(
            f'<div dir="ltr">{paragraphs}</div><br><div class="gmail_quote">'
            f'<div dir="ltr" class="gmail_attr">{attribution}<br></div>'
            '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
            f'border-left:1px solid rgb(204,204,204);padding-left:1ex">{quote}</blockquote>'
            "</div>\n",
            subtype="html",
        )
    elif style == "outlook":
        sender, sent, to, subject, when = OUTLOOK[language]
        message.set_content(
            f"{reply.text}\n\n{signature}\n\n________________________________\n"
            f"{sender}: {ASSISTANT_NAME} <{ASSISTANT_EMAIL}>\n{sent}: {when}\n"
            f"{to}: {lead.first} {lead.last} <{lead.email}>\n{subject}: {reply.subject}\n\n"
            f"{outreach}\n"
        )
    else:
        message.set_content(
            f"{reply.text}\n\n{SENT_FROM[language]}\n\n{attribution}\n\n{_quoted(outreach)}\n"
        )
    return message.as_bytes(policy=email.policy.SMTP)


def _html_message(body: bytes) -> bytes:
    """talon's HTML replies are bodies only: as a client sends them."""
    try:
        body.decode("utf-8")
        charset = "utf-8"
    except UnicodeDecodeError:
        charset = "iso-8859-1"
    head = (
        "From: Alex <alex@example.com>\r\nTo: abc@example.com\r\nSubject: Re: How are you?\r\n"
        "Date: Thu, 26 Jun 2014 14:20:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/html; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + body


def corpus_files() -> list[tuple[str, bytes]]:
    """(where from, bytes) of every checked-in corpus message."""
    found: list[tuple[str, bytes]] = []
    for folder, pattern in (
        ("flufl-bounce", "*.txt"),
        ("samples", "*.eml"),
        ("talon/standard_replies", "*.eml"),
    ):
        for path in sorted((CORPUS / folder).glob(pattern)):
            found.append((folder.split("/")[0], path.read_bytes()))
    for path in sorted((CORPUS / "talon" / "html_replies").glob("*.html")):
        found.append(("talon", _html_message(path.read_bytes())))
    return found


_THREADING = (b"message-id", b"in-reply-to", b"references")


def in_thread(raw: bytes, message_id: str, parent: str) -> bytes:
    """``raw`` with a Message-ID of its own, answering ``parent`` (In-Reply-To and
    References); its other header fields, unix From line and body unchanged."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    end = min(ends) if ends else len(raw)
    newline = b"\r\n" if b"\r\n" in raw[: end + 2] else b"\n"
    kept: list[bytes] = []
    skipping = False
    for line in raw[:end].split(newline):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.split(b":", 1)[0].strip().lower() in _THREADING
        if not skipping:
            kept.append(line)
    kept += [
        f"Message-ID: <{message_id}>".encode(),
        f"In-Reply-To: <{parent}>".encode(),
        f"References: <{parent}>".encode(),
    ]
    rest = raw[end:] if ends else newline * 2
    return newline.join(kept) + rest


def corpus(
    leads: Sequence[Lead], labelled: Sequence[LabelledReply], corpus_share: float
) -> list[Sample]:
    """One message per lead: the checked-in files cycled to ``corpus_share`` of them,
    the rest generated replies; shuffled (seeded), so the worker sees a mix."""
    rng = random.Random(11)
    files = corpus_files()
    rng.shuffle(files)
    from_files = min(len(leads), round(len(leads) * corpus_share))
    samples: list[Sample] = []
    for index, lead in enumerate(leads):
        message_id = f"{uuid.uuid4().hex}@bench.example"
        if index < from_files:
            source, raw = files[index % len(files)]
            samples.append(Sample(lead, in_thread(raw, message_id, lead.thread), source))
        else:
            reply = labelled[index % len(labelled)]
            style = STYLES[(index // len(labelled)) % len(STYLES)]
            samples.append(
                Sample(lead, generated_reply(reply, lead, style), f"generated {reply.language}")
            )
    rng.shuffle(samples)
    return samples


def leads_for(
    count: int, assistants: Sequence[uuid.UUID], labelled: Sequence[LabelledReply]
) -> list[Lead]:
    return [
        _lead(i, assistants[i % len(assistants)], labelled[i % len(labelled)].language)
        for i in range(count)
    ]


# --- shared helpers ----------------------------------------------------------------


@contextlib.contextmanager
def _quiet_logs() -> Iterator[TextIO]:
    """The workers' JSON logs, as deployed, written to /dev/null (yielded, for the
    logging the app's lifespan configures)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with open(os.devnull, "w") as sink:
        with contextlib.redirect_stdout(sink):
            configure_logging("bench", "INFO", "json")
        try:
            yield sink
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
            structlog.reset_defaults()


def _child_env(namespace: str) -> dict[str, str]:
    """What the bench adds to the environment ``make run`` gives a process: its queue
    namespace, and the JSON logs at INFO, as deployed (to a log file)."""
    return {"QUEUE_NAMESPACE": namespace, "LOG_LEVEL": "INFO", "LOG_FORMAT": "json"}


def _call(payload: Contract, ctx: dict[str, Any]) -> JobCall[Any]:
    """A consumer's handler called as its job wrapper would call it."""
    envelope = EventEnvelope(
        id=new_id(),
        name=payload.message_name,
        version=payload.version,
        occurred_at=datetime.now(UTC),
        payload=payload.model_dump(mode="json"),
    )
    return JobCall(envelope, payload, str(envelope.id), 1, ctx)


def _assistant_event(
    org: uuid.UUID, assistant_id: uuid.UUID, owner: uuid.UUID
) -> AssistantUpserted:
    return AssistantUpserted(
        assistant_id=assistant_id,
        org_id=org,
        owner_id=owner,
        type="sales",
        name=ASSISTANT_NAME,
        email=ASSISTANT_EMAIL,
        signature="Ava Stone\nAcme",
        calendar_url="https://cal.acme.test/ava",
        lead_at_risk_days=3,
        company_reply_policy="pause",
        mailbox=Mailbox(),
        members=[],
        archived=False,
        time_zone="America/New_York",
        changed_at=datetime.now(UTC),
    )


def _lead_event(org: uuid.UUID, owner: uuid.UUID, lead: Lead) -> LeadUpserted:
    return LeadUpserted(
        lead_id=lead.lead_id,
        org_id=org,
        assistant_id=lead.assistant_id,
        owner_id=owner,
        email=lead.email,
        first_name=lead.first,
        last_name=lead.last,
        company=lead.company,
        country="US",
        time_zone="America/New_York",
        source="api",
        changed_at=datetime.now(UTC),
    )


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _ms(values: Sequence[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:5.0f} ms  "
        f"p99 {_percentile(values, 0.99) * 1000:5.0f} ms  max {max(values) * 1000:5.0f} ms"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _forget(queue: ArqQueue, namespace: str) -> None:
    """Remove what the benchmark left in Redis: its queues, jobs and results."""
    keys = [k async for k in queue.redis.scan_iter(match=f"*{namespace}*", count=1000)]
    for chunk in range(0, len(keys), 500):
        await queue.redis.delete(*keys[chunk : chunk + 500])


async def _until(what: str, ready: Callable[[], Awaitable[bool]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not reached within {seconds:.0f} s")
        await asyncio.sleep(0.05)


async def _count(database: Database, org: uuid.UUID, table: Table, *where: Any) -> int:
    async with database.transaction() as session:
        await scope_to_org(session, org)
        value = await session.scalar(select(func.count()).select_from(table).where(*where))
    return int(value or 0)


def _machine_busy() -> float:
    """CPU seconds the CPUs of this machine have been busy (``/proc/stat``: user, nice,
    system, irq, softirq; not idle, I/O wait, or time the hypervisor gave away)."""
    try:
        with open("/proc/stat") as stat:
            user, nice, system, _idle, _iowait, irq, softirq = (
                int(x) for x in stat.readline().split()[1:8]
            )
    except (OSError, ValueError):
        return 0.0
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuUse:
    """Where the CPU went while something ran: each group of processes (``groups``:
    label -> pids, read again at the end for processes started meanwhile), the
    PostgreSQL backends serving the bench's database, the machine."""

    database: Database
    groups: Callable[[], dict[str, list[int]]]
    wall: float = 0.0
    machine: float = 0.0
    before: dict[int, float] = dataclasses.field(default_factory=dict)
    backends: dict[int, float] = dataclasses.field(default_factory=dict)

    async def _backends(self) -> dict[int, float]:
        async with self.database.transaction() as session:
            pids = await session.scalars(
                select(text("pid"))
                .select_from(text("pg_stat_activity"))
                .where(text("datname = current_database()"))
            )
            return {int(pid): cpu_of(int(pid)) for pid in pids}

    async def start(self) -> None:
        self.backends = await self._backends()
        self.before = {pid: cpu_of(pid) for pids in self.groups().values() for pid in pids}
        self.wall, self.machine = time.perf_counter(), _machine_busy()

    async def stop(self, messages: int) -> str:
        """Where the CPU went since ``start`` (CPUs busy on average), and the CPU the
        services' processes spent a message."""
        wall = time.perf_counter() - self.wall
        machine = _machine_busy() - self.machine
        used = {
            label: sum(cpu_of(pid) - self.before.get(pid, 0.0) for pid in pids)
            for label, pids in self.groups().items()
        }
        backends = await self._backends()
        postgres = sum(cpu - self.backends.get(pid, 0.0) for pid, cpu in backends.items())
        services = sum(v for k, v in used.items() if k != LOAD)
        parts = ", ".join(f"{label} {seconds / wall:.2f}" for label, seconds in used.items())
        return (
            f"CPUs busy: {parts}, PostgreSQL backends {postgres / wall:.2f}, whole machine "
            f"{machine / wall:.2f} (of {os.cpu_count()}); the services' processes "
            f"{services / messages * 1000:.1f} ms and PostgreSQL "
            f"{postgres / messages * 1000:.1f} ms of CPU a message"
        )


# The bench process when it only generates load: not the services' CPU.
LOAD = "bench process (load, poller, SMTP sink)"


def _this_process() -> dict[str, list[int]]:
    """This process and the parse workers it started (the in-process runs)."""
    return {
        "this process (process(), SQLAlchemy)": [os.getpid()],
        "its parse workers": [p.pid for p in multiprocessing.active_children() if p.pid],
    }


def _stack_groups(children: Stack) -> Callable[[], dict[str, list[int]]]:
    """The stack's processes by role, the parse workers apart, and this process."""

    def groups() -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for child in children.children:
            role = child.name.rsplit("-", 1)[0]
            found.setdefault(role, []).append(child.pid)
            below = descendants(child.pid)
            if below:
                found.setdefault(f"{role} parse workers", []).extend(below)
        found[LOAD] = [os.getpid()]
        return found

    return groups


# --- 1. throughput -----------------------------------------------------------------


def _rate(label: str, count: int, seconds: float, note: str = "") -> str:
    return f"  {label:58s} {count / seconds:8,.0f} msgs/s  ({seconds:.2f} s{note})"


def _best(passes: int, run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


async def _seed_read_models(
    database: Database,
    org: uuid.UUID,
    owner: uuid.UUID,
    assistants: Sequence[uuid.UUID],
    leads: Sequence[Lead],
    box: SecretBox,
) -> None:
    """Inbound's read models as the api's and the mailer's events leave them: the
    assistants, the leads and the step each lead was sent."""
    ctx = {"secret_box": box}
    async with database.transaction() as session:
        for assistant_id in assistants:
            await on_assistant_upserted(
                session, _call(_assistant_event(org, assistant_id, owner), ctx)
            )
    for start in range(0, len(leads), SEED_BATCH):
        async with database.transaction() as session:
            for lead in leads[start : start + SEED_BATCH]:
                await on_lead_upserted(session, _call(_lead_event(org, owner, lead), ctx))
                sent = MessageSent(
                    lead_id=lead.lead_id,
                    org_id=org,
                    assistant_id=lead.assistant_id,
                    channel="email",
                    step=1,
                    subject="Quick question",
                    message_id=f"<{lead.thread}>",
                    reply_token=uuid.uuid4().hex[:16],
                    sent_at=SENT_AT,
                )
                await on_message_sent(session, _call(sent, ctx))


async def _store_all(
    database: Database, org: uuid.UUID, samples: Sequence[Sample], max_bytes: int
) -> float:
    """Every sample through ``store``, ``STORE_CONCURRENCY`` at a time; seconds taken."""
    todo = iter(samples)

    async def storer() -> None:
        for sample in todo:
            async with database.transaction() as session:
                await scope_to_org(session, org)
                arrival = Arrival(
                    org,
                    sample.lead.assistant_id,
                    "http",
                    sample.raw,
                    len(sample.raw),
                    datetime.now(UTC),
                )
                stored = await store(session, arrival, max_bytes=max_bytes)
            if stored.duplicate or stored.status != "received":
                raise RuntimeError(f"message not stored: {stored}")

    started = time.perf_counter()
    await asyncio.gather(*(storer() for _ in range(STORE_CONCURRENCY)))
    return time.perf_counter() - started


async def _unprocessed(database: Database, org: uuid.UUID) -> int:
    return await _count(database, org, inbound_messages, inbound_messages.c.status == "received")


async def _last_processed(database: Database, org: uuid.UUID) -> datetime:
    async with database.transaction() as session:
        await scope_to_org(session, org)
        last = await session.scalar(select(func.max(inbound_messages.c.processed_at)))
    assert isinstance(last, datetime)
    return last


async def _outcomes(database: Database, org: uuid.UUID) -> tuple[str, str]:
    async with database.transaction() as session:
        await scope_to_org(session, org)
        kinds = (
            await session.execute(
                select(inbound_messages.c.kind, func.count())
                .group_by(inbound_messages.c.kind)
                .order_by(func.count().desc())
            )
        ).all()
        matched = (
            await session.execute(
                select(inbound_messages.c.matched_by, func.count())
                .group_by(inbound_messages.c.matched_by)
                .order_by(func.count().desc())
            )
        ).all()
    return (
        ", ".join(f"{kind} {n:,}" for kind, n in kinds),
        ", ".join(f"{by or 'no lead'} {n:,}" for by, n in matched),
    )


async def _worker_run(
    children: Stack, database: Database, org: uuid.UUID, count: int, workers: int
) -> tuple[float, float, str]:
    """``workers`` inbound worker processes until every row is processed: (seconds
    from the end of their start-up to the last row processed, start-up seconds, where
    the CPU went)."""
    marks = [children.logs / f"throughput-started-{i}" for i in range(workers)]
    launched = time.time()
    for mark in marks:
        children.start("inbound-worker", BENCH_STARTED_FILE=str(mark))
    cpu = CpuUse(database, _stack_groups(children))
    try:
        await children.ready()
        await cpu.start()
        deadline = time.monotonic() + max(300.0, count / 5)
        while await _unprocessed(database, org):
            if time.monotonic() > deadline:
                raise RuntimeError("the inbound worker did not process every message")
            await asyncio.sleep(0.05)
        used = await cpu.stop(count)
    finally:
        await children.stop()
    began = datetime.fromtimestamp(min(float(m.read_text()) for m in marks), UTC)
    last = await _last_processed(database, org)
    return (last - began).total_seconds(), began.timestamp() - launched, used


async def _process_alone(
    settings: InboundSettings, org: uuid.UUID, ids: Sequence[uuid.UUID], sample: bytes
) -> tuple[float, str]:
    """``process()`` on every row (set back to ``received``), ``worker_max_jobs`` at a
    time, with the worker's own ``prepare``d reader and classifier: no relay, no arq."""
    database = Database.connect(
        settings.database_url, pool_size=settings.db_pool_size, application_name="bench-process"
    )
    ctx: dict[str, Any] = {"settings": settings, "database": database}
    try:
        async with database.transaction() as session:
            await scope_to_org(session, org)
            await session.execute(
                update(inbound_messages).values(status="received", processed_at=None)
            )
        await inbound_prepare(ctx)
        pool: UnderstandingPool = ctx["understanding"]
        await asyncio.gather(
            *(pool.understand(sample, max_bytes=PARSE_LIMIT_BYTES) for _ in range(pool.workers))
        )
        todo = iter(ids)
        rules = inbound_policy(settings)

        async def job() -> None:
            for message_id in todo:
                outcome = await process(
                    database,
                    org,
                    message_id,
                    read=ctx["read"],
                    classify=ctx["classify"],
                    policy=rules,
                )
                if outcome != "success":
                    raise RuntimeError(f"process() said {outcome}")

        cpu = CpuUse(database, _this_process)
        trips = RoundTrips()
        trips.attach(database)
        await cpu.start()
        started = time.perf_counter()
        await asyncio.gather(*(job() for _ in range(settings.worker_max_jobs)))
        seconds = time.perf_counter() - started
        return seconds, f"{await cpu.stop(len(ids))}\n    {trips.per(len(ids))}"
    finally:
        await inbound_close(ctx)
        await database.dispose()


@dataclass
class RoundTrips:
    """The database round trips ``process()`` makes (SQLAlchemy's statements, and per
    transaction its connection check, BEGIN and COMMIT or ROLLBACK), counted through
    the engine's events."""

    statements: int = 0
    transactions: int = 0

    def attach(self, database: Database) -> None:
        engine = database.engine.sync_engine

        def executed(*_: Any) -> None:
            self.statements += 1

        def began(*_: Any) -> None:
            self.transactions += 1

        event.listen(engine, "before_cursor_execute", executed)
        event.listen(engine, "begin", began)

    def per(self, messages: int) -> str:
        statements = self.statements / messages
        transactions = self.transactions / messages
        return (
            f"round trips a message: {statements:.1f} statements in {transactions:.1f} "
            f"transactions, {statements + 3 * transactions:.1f} with each transaction's "
            "pre-ping, BEGIN and COMMIT"
        )


async def _pool_alone(settings: InboundSettings, raws: Sequence[bytes], max_bytes: int) -> float:
    """The worker's ``UnderstandingPool`` alone (warmed), ``worker_max_jobs`` at a time."""
    pool = UnderstandingPool(
        workers=settings.parse_workers, time_limit=settings.parse_timeout_seconds
    )
    try:
        await asyncio.gather(
            *(pool.understand(raws[0], max_bytes=max_bytes) for _ in range(pool.workers))
        )
        todo = iter(raws)

        async def caller() -> None:
            for raw in todo:
                await pool.understand(raw, max_bytes=max_bytes)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(settings.worker_max_jobs)))
        return time.perf_counter() - started
    finally:
        await pool.close()


def _baselines(raws: Sequence[bytes], max_bytes: int) -> list[str]:
    lines: list[str] = []
    size = len(raws)

    def parse(policy: Any) -> Callable[[], None]:
        def run() -> None:
            for raw in raws:
                email.message_from_bytes(raw, policy=policy)

        return run

    lines.append(
        _rate("email.message_from_bytes, policy=compat32", size, _best(PASSES, parse(compat32)))
    )
    seconds = _best(PASSES, parse(email.policy.default))
    lines.append(_rate("email.message_from_bytes, policy=email.policy.default", size, seconds))

    def read_all() -> None:
        for raw in raws:
            understand(raw, max_bytes=max_bytes)

    understand(raws[0], max_bytes=max_bytes)  # imports, compiled patterns
    seconds = _best(PASSES, read_all)
    lines.append(_rate(f"understand(raw, max_bytes={max_bytes:,}), this process", size, seconds))

    readings = [reading_of(understand(raw, max_bytes=max_bytes)) for raw in raws]
    human = [(r.text, r.subject) for r in readings if r.kind == "human"]
    engine = RulesClassifier().engine
    intent_dates.warm_up()
    at = datetime.now(UTC)

    def classify_all() -> None:
        for body, subject in human:
            engine.classify(body, subject, at)

    seconds = _best(PASSES, classify_all)
    lines.append(
        _rate(f"rules classifier on the {len(human):,} human replies' texts", len(human), seconds)
    )
    return lines


async def _throughput() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    settings = InboundSettings.model_validate(
        {
            "DATABASE_URL": urls.app,
            "MIGRATION_DATABASE_URL": urls.owner,
            "REDIS_URL": REDIS_URL,
            "QUEUE_NAMESPACE": namespace,
        }
    )
    max_bytes = min(settings.max_message_bytes, PARSE_LIMIT_BYTES)
    database = Database.connect(urls.app, application_name="bench-inbound")
    queue = await ArqQueue.connect(REDIS_URL)
    org, owner = uuid.uuid4(), uuid.uuid4()
    assistants = [uuid.uuid4() for _ in range(ASSISTANTS)]
    try:
        await migrations.upgrade_async(urls.owner)
        labelled = load_labelled(LABELLED)
        leads = leads_for(MESSAGES, assistants, labelled)
        samples = corpus(leads, labelled, CORPUS_SHARE)
        raws = [s.raw for s in samples]
        sources = Counter(s.source for s in samples)
        files = Counter(source for source, _ in corpus_files())
        total = sum(len(r) for r in raws)
        box = SecretBox.from_setting(settings.secret_keys.get_secret_value())
        await _seed_read_models(database, org, owner, assistants, leads, box)

        from_files = ", ".join(f"{files[k]} {k}" for k in ("flufl-bounce", "samples", "talon"))
        made = ", ".join(
            f"{k.split()[1]} {n:,}" for k, n in sorted(sources.items()) if k.startswith("gen")
        )
        print(
            f"inbound throughput, {len(samples):,} messages ({total / 1e6:.1f} MB, mean "
            f"{total / len(raws) / 1024:.1f} KB): "
            f"{sum(n for k, n in sources.items() if not k.startswith('gen')):,} from the "
            f"checked-in corpus ({from_files} files, cycled), "
            f"{sum(n for k, n in sources.items() if k.startswith('gen')):,} generated human "
            f"replies ({made}); each in the thread of a seeded lead (In-Reply-To); "
            f"{os.cpu_count()} CPUs; PostgreSQL + Redis on this machine"
        )
        stored = await _store_all(database, org, samples, settings.max_message_bytes)
        print(_rate(f"stored through store(), {STORE_CONCURRENCY} at a time", len(raws), stored))
        values = stack.StackValues(
            database_url=urls.app,
            migration_database_url=urls.owner,
            redis_url=REDIS_URL,
            smtp_host="127.0.0.1",
            smtp_port=free_port(),  # inbound sends no mail
            log_format="json",
        )
        with tempfile.TemporaryDirectory(prefix="bench-inbound-") as logs:
            children = Stack(values, Path(logs), _child_env(namespace))
            seconds, startup, used = await _worker_run(
                children, database, org, len(raws), INBOUND_WORKERS
            )
        workers = settings.parse_workers
        print(
            _rate(
                f"inbound worker end to end, {INBOUND_WORKERS} process(es) (relay, arq, process())",
                len(raws),
                seconds,
                f"; {settings.worker_max_jobs} jobs at a time, {workers} parse workers each, "
                f"relay every {settings.relay_poll_seconds:.2f} s; start-up {startup:.1f} s "
                "not counted",
            )
        )
        kinds, matched = await _outcomes(database, org)
        print(f"    {used}")
        print(f"    read as: {kinds}")
        print(f"    matched: {matched}")
        async with database.transaction() as session:
            await scope_to_org(session, org)
            ids = list(await session.scalars(select(inbound_messages.c.id)))
        alone, used = await _process_alone(settings, org, ids, raws[0])
        print(
            _rate(
                f"process() alone, in this process, {settings.worker_max_jobs} at a time "
                "(the rows replayed)",
                len(ids),
                alone,
            )
        )
        print(f"    {used}")
        pooled = await _pool_alone(settings, raws, max_bytes)
        print(
            _rate(
                f"UnderstandingPool alone ({workers} workers), "
                f"{settings.worker_max_jobs} at a time",
                len(raws),
                pooled,
            )
        )
        print(f"  baselines, same bytes, this process, best of {PASSES}:")
        for line in _baselines(raws, max_bytes):
            print("  " + line)
    finally:
        await database.dispose()
        await _forget(queue, namespace)
        await queue.close()
        await dbadmin.drop(ADMIN_URL, name)


# --- 2. reply -> stop latency ------------------------------------------------------


@dataclass
class SmtpSink:
    """The mailer's SMTP server (the answers in the thread go through it): accepts
    every message, keeps only their count."""

    messages: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 Message accepted"


async def _smtp_sink(sink: SmtpSink) -> asyncio.Server:
    """The SMTP server on this event loop, on a free port of 127.0.0.1 (not the
    catcher ``make run`` starts, which the mailer's default settings point at)."""
    return await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink, hostname="smtp.bench.test"), host="127.0.0.1", port=0
    )


@dataclass
class Posted:
    lead: Lead
    raw: bytes
    sent: float = 0.0  # perf_counter just before the POST
    sent_wall: datetime | None = None
    answered: float = 0.0
    message_id: uuid.UUID | None = None
    stop_seen: float = 0.0
    closed_seen: float = 0.0


@contextlib.asynccontextmanager
async def _relaying(relay: OutboxRelay) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def _enrol(
    database: Database,
    queue: ArqQueue,
    settings: InboundSettings,
    org: uuid.UUID,
    owner: uuid.UUID,
    assistant_id: uuid.UUID,
    leads: Sequence[Lead],
) -> None:
    """The leads as the api, the scheduler and the mailer leave them, through their
    outboxes, relays and workers: in every read model, enrolled, their first step sent."""
    relay = OutboxRelay(
        database=database,
        outbox=api_outbox,
        queue=queue,
        service="api",
        namespace=settings.queue_namespace,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
    )
    count = len(leads)
    ids = [lead.lead_id for lead in leads]
    async with _relaying(relay):
        async with database.transaction() as session:
            events: list[tuple[Contract, uuid.UUID | None]] = [
                (_assistant_event(org, assistant_id, owner), org)
            ]
            events += [(_lead_event(org, owner, lead), org) for lead in leads]
            await publish_many(session, api_outbox, events)

        async def known() -> bool:
            return (
                await _count(database, org, inbound_leads) == count
                and await _count(database, org, scheduler_leads) == count
                and await _count(database, org, mailer_leads) == count
                and await _count(database, org, inbound_assistants) == 1
            )

        await _until("leads in every read model", known, 120)
        async with database.transaction() as session:
            now = datetime.now(UTC)
            await publish_many(
                session,
                api_outbox,
                [
                    (
                        EnrollmentRequested(
                            lead_id=lead.lead_id,
                            org_id=org,
                            assistant_id=assistant_id,
                            owner_id=owner,
                            schedule=SCHEDULE,
                            requested_at=now,
                        ),
                        org,
                    )
                    for lead in leads
                ],
            )

        async def enrolled() -> bool:
            async with database.transaction() as session:
                await scope_to_org(session, org)
                backlog = await outbox_backlog(session, scheduler_outbox)
            return (
                backlog == 0
                and await _count(database, org, enrollments, enrollments.c.status == "active")
                == count
                and await _count(
                    database,
                    org,
                    mailer_inbox,
                    mailer_inbox.c.name == EnrollmentUpdated.message_name,
                )
                >= count
            )

        await _until("enrollments", enrolled, 120)
    async with database.transaction() as session:
        await scope_to_org(session, org)
        tokens = dict(
            (
                await session.execute(
                    select(mailer_leads.c.id, mailer_leads.c.reply_token).where(
                        mailer_leads.c.id.in_(ids)
                    )
                )
            ).all()
        )
        await publish_many(
            session,
            mailer_outbox,
            [
                (
                    MessageSent(
                        lead_id=lead.lead_id,
                        org_id=org,
                        assistant_id=assistant_id,
                        channel="email",
                        step=1,
                        subject="Quick question",
                        message_id=f"<{lead.thread}>",
                        reply_token=tokens[lead.lead_id],
                        sent_at=SENT_AT,
                    ),
                    org,
                )
                for lead in leads
            ],
        )

    async def threaded() -> bool:
        return await _count(database, org, inbound_threads) == count

    await _until("threads in inbound", threaded, 120)


async def _route_secret(database: Database, box: SecretBox, org: uuid.UUID) -> str:
    async with database.transaction() as session:
        await scope_to_org(session, org)
        sealed = await session.scalar(select(inbound_assistants.c.route_secret))
    assert isinstance(sealed, str)
    return str(box.decrypt(sealed))


# One statement a poll on a connection of its own (plain asyncpg): the poller shares
# the event loop with what it measures, so it should cost that loop little.
WATCH = f"""
SELECT lead_id, 'stop' FROM {stops.fullname} WHERE lead_id = ANY($1::uuid[])
UNION ALL
SELECT lead_id, 'closed' FROM {enrollments.fullname}
WHERE lead_id = ANY($2::uuid[]) AND status <> 'active'
"""


async def _watch(database: Database, org: uuid.UUID, posted: Sequence[Posted]) -> None:
    """Note when each posted reply's stop row (mailer) and closed enrollment
    (scheduler) are first visible."""
    by_lead = {p.lead.lead_id: p for p in posted}
    url = database.engine.url.set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await conn.execute("SELECT set_config($1, $2, false)", ORG_SETTING, str(org))
        query = await conn.prepare(WATCH)
        while True:
            sent = [p for p in by_lead.values() if p.sent]
            stop_waiting = [p.lead.lead_id for p in sent if not p.stop_seen]
            close_waiting = [p.lead.lead_id for p in sent if not p.closed_seen]
            if stop_waiting or close_waiting:
                rows = await query.fetch(stop_waiting, close_waiting)
                now = time.perf_counter()
                for lead_id, what in rows:
                    if what == "stop":
                        by_lead[lead_id].stop_seen = now
                    else:
                        by_lead[lead_id].closed_seen = now
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await conn.close()


async def _post_all(
    client: httpx.AsyncClient, url: str, posted: Sequence[Posted], rate: float
) -> list[float]:
    """POST each reply at its slot of a steady ``rate`` a second, without waiting for
    the previous ones; how late each POST started (seconds)."""
    loop = asyncio.get_running_loop()

    async def post(item: Posted) -> None:
        item.sent_wall = datetime.now(UTC)
        item.sent = time.perf_counter()
        response = await client.post(
            url, content=item.raw, headers={"content-type": "message/rfc822"}
        )
        item.answered = time.perf_counter()
        if response.status_code != 202:
            raise RuntimeError(f"POST answered {response.status_code}: {response.text[:300]}")
        item.message_id = uuid.UUID(response.json()["id"])

    tasks: list[asyncio.Task[None]] = []
    late: list[float] = []
    start = loop.time()
    for index, item in enumerate(posted):
        slot = start + index / rate
        wait = slot - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        late.append(max(0.0, loop.time() - slot))
        tasks.append(asyncio.create_task(post(item)))
    await asyncio.gather(*tasks)
    return late


async def _not_human(
    database: Database, org: uuid.UUID, posted: Sequence[Posted]
) -> set[uuid.UUID]:
    """The leads whose reply inbound processed as something other than a human answer
    (no stop is due for them)."""
    ids = [p.message_id for p in posted if p.message_id is not None]
    async with database.transaction() as session:
        await scope_to_org(session, org)
        rows = await session.scalars(
            select(inbound_messages.c.lead_id).where(
                inbound_messages.c.id.in_(ids),
                inbound_messages.c.status == "processed",
                inbound_messages.c.kind != "human",
            )
        )
        return {lead_id for lead_id in rows if lead_id is not None}


async def _measure(
    database: Database,
    org: uuid.UUID,
    client: httpx.AsyncClient,
    url: str,
    posted: Sequence[Posted],
    rate: float,
    groups: Callable[[], dict[str, list[int]]],
) -> tuple[list[Posted], list[float], str]:
    """Post ``posted`` at ``rate`` and wait for every stop; the replies that were due
    one (read as human), how late each POST started, and where the CPU went."""
    cpu = CpuUse(database, groups)
    await cpu.start()
    watcher = asyncio.create_task(_watch(database, org, posted))
    excluded: set[uuid.UUID] = set()
    try:
        late = await _post_all(client, url, posted, rate)
        deadline = time.monotonic() + 180
        checked = 0.0
        while not all(
            p.stop_seen and p.closed_seen for p in posted if p.lead.lead_id not in excluded
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("some replies never stopped their sequence")
            if time.monotonic() - checked > 1:
                checked = time.monotonic()
                excluded = await _not_human(database, org, posted)
            await asyncio.sleep(0.05)
        used = await cpu.stop(len(posted))
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    return [p for p in posted if p.lead.lead_id not in excluded], late, used


async def _report(database: Database, org: uuid.UUID, posted: Sequence[Posted]) -> list[str]:
    """The latencies of ``posted``, with the segments from the rows' own timestamps (this
    machine's clock): POST -> stored, stored -> processed, processed -> the stop's
    transaction began."""
    async with database.transaction() as session:
        await scope_to_org(session, org)
        rows = {
            r.id: r
            for r in await session.execute(
                select(
                    inbound_messages.c.id,
                    inbound_messages.c.received_at,
                    inbound_messages.c.processed_at,
                ).where(inbound_messages.c.id.in_([p.message_id for p in posted]))
            )
        }
        began = dict(
            (
                await session.execute(
                    select(stops.c.lead_id, stops.c.stopped_at).where(
                        stops.c.lead_id.in_([p.lead.lead_id for p in posted])
                    )
                )
            ).all()
        )
    stored: list[float] = []
    processed: list[float] = []
    stopped: list[float] = []
    for p in posted:
        assert p.message_id is not None
        assert p.sent_wall is not None
        row = rows[p.message_id]
        stored.append((row.received_at - p.sent_wall).total_seconds())
        processed.append((row.processed_at - row.received_at).total_seconds())
        stopped.append((began[p.lead.lead_id] - row.processed_at).total_seconds())
    first = min(p.sent_wall for p in posted if p.sent_wall is not None)
    last_processed = max(row.processed_at for row in rows.values())
    last_stop = max(began.values())
    return [
        f"  {'throughput (first POST to last row)':46s} posted "
        f"{len(posted) / (max(p.sent for p in posted) - min(p.sent for p in posted)):.0f}/s, "
        f"processed {len(posted) / (last_processed - first).total_seconds():.0f}/s, "
        f"stopped {len(posted) / (last_stop - first).total_seconds():.0f}/s",
        f"  {'POST -> mailer stop row visible':46s} {_ms([p.stop_seen - p.sent for p in posted])}",
        f"  {'POST -> scheduler enrollment closed visible':46s} "
        f"{_ms([p.closed_seen - p.sent for p in posted])}",
        f"  {'POST answered (202)':46s} {_ms([p.answered - p.sent for p in posted])}",
        f"  {'  POST -> row stored (intake)':46s} {_ms(stored)}",
        f"  {'  stored -> processed (inbound relay, worker)':46s} {_ms(processed)}",
        f"  {'  processed -> stop transaction (mailer)':46s} {_ms(stopped)}",
    ]


async def _latency() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    sink = SmtpSink()
    server = await _smtp_sink(sink)
    port = int(server.sockets[0].getsockname()[1])
    values = stack.StackValues(
        database_url=urls.app,
        migration_database_url=urls.owner,
        redis_url=REDIS_URL,
        smtp_host="127.0.0.1",
        smtp_port=port,
        log_format="json",
    )
    # What the children read, for the figures printed beside the results.
    env = {**_child_env(namespace), "DATABASE_URL": urls.app, "REDIS_URL": REDIS_URL}
    inbound_settings = InboundSettings.model_validate({**os.environ, **env})
    mailer_settings = MailerSettings.model_validate({**os.environ, **env})
    scheduler_settings = SchedulerSettings.model_validate({**os.environ, **env})
    database = Database.connect(urls.app, application_name="bench-inbound")
    queue = await ArqQueue.connect(REDIS_URL)
    org, owner, assistant_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    count = round(RATE * SECONDS)
    labelled = load_labelled(LABELLED)
    leads = leads_for(WARM + count, [assistant_id], labelled)
    posted = [
        Posted(
            lead,
            generated_reply(
                labelled[i % len(labelled)], lead, STYLES[(i // len(labelled)) % len(STYLES)]
            ),
        )
        for i, lead in enumerate(leads)
    ]
    box = SecretBox.from_setting(inbound_settings.secret_keys.get_secret_value())
    logs = tempfile.TemporaryDirectory(prefix="bench-inbound-")
    children = Stack(values, Path(logs.name), _child_env(namespace))
    try:
        await migrations.upgrade_async(urls.owner)
        app = children.start("inbound")
        for _ in range(INBOUND_WORKERS):
            children.start("inbound-worker")
        children.start("mailer-worker")
        children.start("scheduler-worker")
        await children.ready()
        groups = _stack_groups(children)
        # Idle connections are dropped well before uvicorn's keep-alive timeout (5 s)
        # closes them, else a POST races the server's close (ReadError).
        limits = httpx.Limits(
            max_connections=1000, max_keepalive_connections=100, keepalive_expiry=1.0
        )
        async with httpx.AsyncClient(base_url=app.url(), timeout=120, limits=limits) as client:
            started = time.perf_counter()
            await _enrol(database, queue, inbound_settings, org, owner, assistant_id, leads)
            seeded = time.perf_counter() - started
            url = f"/v1/inbound/email/{assistant_id}/{await _route_secret(database, box, org)}"
            warm, _, _ = await _measure(
                database, org, client, url, posted[:WARM], WARM_RATE, groups
            )
            measured, late, used = await _measure(
                database, org, client, url, posted[WARM:], RATE, groups
            )
        await children.stop()
        sent = [p.sent for p in posted[WARM:]]
        span = max(sent) - min(sent)
        print(
            f"\nreply -> stop latency: {count:,} human replies to {count:,} enrolled leads, "
            f"posted at {RATE:.0f}/s for {SECONDS:.0f} s (achieved {(count - 1) / span:.1f}/s; "
            f"POSTs started late p99 {_percentile(late, 0.99) * 1000:.0f} ms, max "
            f"{max(late) * 1000:.0f} ms) to the inbound app (uvicorn, its own process) over "
            f"HTTP, after "
            f"{WARM} warm-up replies at {WARM_RATE:.0f}/s; leads seeded through the api, "
            f"scheduler and mailer outboxes and workers in {seeded:.1f} s"
        )
        print(
            f"  relays poll every {inbound_settings.relay_poll_seconds:.2f} s (inbound), "
            f"{mailer_settings.relay_poll_seconds:.2f} s (mailer), "
            f"{scheduler_settings.relay_poll_seconds:.2f} s (scheduler); arq workers poll "
            f"every {WorkerSpec.poll_delay_seconds:.2f} s, {inbound_settings.worker_max_jobs} "
            f"jobs at a time; {INBOUND_WORKERS} inbound worker process(es), "
            f"{inbound_settings.parse_workers} parse workers each; each service's worker in "
            f"a process of its own; rows seen by a {POLL_SECONDS * 1000:.0f} ms poller"
        )
        if len(measured) < count:
            print(f"  {count - len(measured)} replies not read as human: no stop due, left out")
        for line in await _report(database, org, measured):
            print(line)
        stop = [p.stop_seen - p.sent for p in measured]
        first = min(sent)
        by_second: dict[int, list[float]] = {}
        for p in measured:
            by_second.setdefault(int(p.sent - first), []).append(p.stop_seen - p.sent)
        trend = " ".join(
            f"{statistics.median(by_second[k]):.1f}" for k in sorted(by_second) if k < SECONDS
        )
        print(f"  POST -> stop row p50 by second of posting (s): {trend}")
        print(f"  {used}")
        print(
            f"  the mailer answered {sink.messages:,} replies in the thread (brochure or "
            "calendar link) through a local SMTP sink"
        )
        print(f"  for comparison, the {len(warm)} warm-up replies, at {WARM_RATE:.0f}/s:")
        for line in await _report(database, org, warm):
            print("  " + line)
        verdict = "met" if _percentile(stop, 0.99) < TARGET_P99_SECONDS else "MISSED"
        print(
            f"  target, a reply effective within {TARGET_P99_SECONDS:.0f} s at p99 under "
            f"{RATE:.0f}/s: {verdict}"
        )
    finally:
        await children.stop()
        logs.cleanup()
        server.close()
        await server.wait_closed()
        await database.dispose()
        await _forget(queue, namespace)
        await queue.close()
        await dbadmin.drop(ADMIN_URL, name)


async def main() -> None:
    started = time.perf_counter()
    print(f"inbound bench: load average {_load()} at start")
    with _quiet_logs():
        if "throughput" in PARTS:
            await _throughput()
        if "latency" in PARTS:
            await _latency()
    print(
        f"inbound bench: load average {_load()} at end; "
        f"{time.perf_counter() - started:.0f} s in all"
    )


if __name__ == "__main__":
    asyncio.run(main())
