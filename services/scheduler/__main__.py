"""`python -m services.scheduler`: serve the scheduler HTTP app."""

from services.scheduler.settings import Settings
from services.kit.http import serve_http

if __name__ == "__main__":
    serve_http("services.scheduler.app:app", Settings())
