"""`python -m services.mailer`: serve the mailer HTTP app."""

from services.kit.http import serve_http
from services.mailer.settings import Settings

if __name__ == "__main__":
    serve_http("services.mailer.app:app", Settings())
