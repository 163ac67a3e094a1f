"""`python -m services.inbound`: serve the inbound HTTP app."""

from services.inbound.settings import Settings
from services.kit.http import serve_http

if __name__ == "__main__":
    serve_http("services.inbound.app:app", Settings())
