"""`make bench`: run every benchmark and print its figures."""

from __future__ import annotations

import asyncio

from bench import lead_import, outbox_relay


def main() -> None:
    asyncio.run(outbox_relay.main())
    asyncio.run(lead_import.main())


if __name__ == "__main__":
    main()
