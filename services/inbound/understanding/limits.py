"""Caps that bound the work done on one message. Each one that triggers becomes a reason."""

from __future__ import annotations

# A sensible `max_bytes` for `understand`: the text, the delivery report and the headers
# of real mail sit well inside it, and compat32 parses it in about a tenth of a second.
PARSE_LIMIT_BYTES = 4 * 1024 * 1024

# The header-only parse done in the caller's process when a worker failed.
SAFE_HEADER_BYTES = 64 * 1024
SAFE_HEADER_FIELDS = 200

MAX_HEADER_FIELDS = 1000
MAX_HEADER_BYTES = 256 * 1024
# Past the field cap, these are still kept (a bomb should not hide them), up to this many.
MAX_LATE_IMPORTANT_FIELDS = 64
MAX_FIELD_BYTES = 64 * 1024  # one header field, folded lines included
MAX_DECODED_HEADER_CHARS = 8 * 1024  # a decoded value kept on the result
MAX_ADDRESS_HEADER_CHARS = 64 * 1024  # To/Cc lists may be long
MAX_ADDRESSES = 500

# multipart/* and message/* containers: nesting is parsed recursively by the stdlib.
MAX_CONTAINERS = 100
MAX_DEPTH = 32
MAX_PARTS = 1000
MAX_ATTACHMENTS = 100

MAX_TEXT_CHARS = 256 * 1024  # decoded body text kept
MAX_ENCODED_TEXT_BYTES = 2 * 1024 * 1024  # encoded payload looked at to get that text
MAX_HTML_CHARS = 256 * 1024  # html fed to the html-to-text converter (slow per tag)

MAX_DETECTOR_CHARS = 32 * 1024  # text of all parts handed to flufl.bounce's detectors …
MAX_DETECTOR_LINES = 600  # … and its lines (they cost per line and pattern)
MAX_SCAN_CHARS = 64 * 1024  # text scanned for wording (bounces, out-of-office)
MAX_REPLY_CHARS = 32 * 1024  # text handed to the reply parser
MAX_LINE_CHARS = 1000  # a line longer than this is cut before any pattern sees it
