"""`make bench`: run every benchmark and print its figures."""

from __future__ import annotations

import asyncio

from bench import (
    dispatch,
    imap,
    inbound,
    intents,
    lead_import,
    mail,
    outbox_relay,
    stop_latency,
)


def main() -> None:
    asyncio.run(outbox_relay.main())
    asyncio.run(lead_import.main())
    asyncio.run(dispatch.main())
    asyncio.run(mail.main())
    asyncio.run(stop_latency.main())
    asyncio.run(intents.main())
    asyncio.run(inbound.main())
    asyncio.run(imap.main())


if __name__ == "__main__":
    main()
