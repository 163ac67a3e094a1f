"""`python -m services.scheduler`: serve the scheduler HTTP app."""

from services.kit.http import serve_http
from services.scheduler.settings import Settings

if __name__ == "__main__":
    serve_http("services.scheduler.app:app", Settings())
