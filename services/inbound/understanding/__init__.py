"""Understanding inbound mail: raw RFC 5322 bytes in, a typed, picklable verdict out.

Pure (stdlib and the mail libraries only): no database, no HTTP, no framework. The order
is the issue's: bounce → complaint → automatic reply → human reply. Run it through
`understand_in_pool` from async code: a message that takes longer than the time limit
gets an `unparseable` verdict and its worker process is killed.
"""

from services.inbound.understanding.limits import PARSE_LIMIT_BYTES
from services.inbound.understanding.mime import ParsedMessage, parse_headers, parse_message
from services.inbound.understanding.model import (
    Address,
    Attachment,
    AutoReply,
    AutoReplyKind,
    Bounce,
    BounceCategory,
    BounceKind,
    BounceRecipient,
    BounceSource,
    Complaint,
    Headers,
    Kind,
    Reply,
    Understanding,
)
from services.inbound.understanding.pool import (
    DEFAULT_TIME_LIMIT,
    UnderstandingPool,
    close_pool,
    understand_in_pool,
)
from services.inbound.understanding.verdict import understand

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "PARSE_LIMIT_BYTES",
    "Address",
    "Attachment",
    "AutoReply",
    "AutoReplyKind",
    "Bounce",
    "BounceCategory",
    "BounceKind",
    "BounceRecipient",
    "BounceSource",
    "Complaint",
    "Headers",
    "Kind",
    "ParsedMessage",
    "Reply",
    "Understanding",
    "UnderstandingPool",
    "close_pool",
    "parse_headers",
    "parse_message",
    "understand",
    "understand_in_pool",
]
