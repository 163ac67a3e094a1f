# One image for every Pursuit process; compose.yaml picks the process by its command
# (`python -m services.api`, `python -m services.api.worker`, `python -m services.kit.migrations`...).
FROM python:3.11-slim

# The processes run from the source tree (PYTHONPATH): alembic.ini and migrations/
# live beside the packages, and the kit finds them relative to its own files.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies in a layer of their own, rebuilt only when pyproject.toml changes:
# with no source beside it, `pip install .` installs the dependencies (and an empty
# distribution); the code itself runs from /app (PYTHONPATH). The embedded servers
# (the `embedded` extra) are not needed: compose runs PostgreSQL and Redis.
COPY pyproject.toml ./
RUN pip install .

COPY alembic.ini ./
COPY migrations/ migrations/
COPY shared/ shared/
COPY services/ services/

# No root inside the container.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pursuit
USER pursuit

EXPOSE 8000 8001 8002 8003 8004 9000 9001 9002 9003 9004
CMD ["python", "-m", "services.api"]
