"""`python -m services.identity`: serve the identity HTTP app."""

from services.identity.settings import Settings
from services.kit.http import serve_http

if __name__ == "__main__":
    serve_http("services.identity.app:app", Settings())
