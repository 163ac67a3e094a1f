"""`python -m services.api`: serve the api HTTP app."""

from services.api.settings import Settings
from services.kit.http import serve_http

if __name__ == "__main__":
    serve_http("services.api.app:app", Settings())
