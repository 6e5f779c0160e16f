# syntax=docker/dockerfile:1
# Outcry's one image: gunicorn by default; docker-compose.yml runs the same image as the Celery
# worker, the beat scheduler and the one-shot migration. No secrets are baked in: every setting
# arrives through the environment at run time (see .env.example).

# --- build: wheels for every pinned requirement, compiled here when a platform has no wheel
# (so the runtime image carries no compiler).
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

# --- runtime
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 outcry \
 && useradd --system --uid 10001 --gid outcry --create-home --home-dir /home/outcry \
      --shell /usr/sbin/nologin outcry
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels -r requirements.txt
# The code stays owned by root, so the app cannot rewrite itself; only instance/ is writable.
COPY . .
RUN python -m compileall -q webapp tasks \
 && mkdir -p /app/instance \
 && chown outcry:outcry /app/instance
USER outcry

EXPOSE 8000
# /livez answers while gunicorn serves requests (urlopen raises when it doesn't); /healthz, for monitoring, also
# answers for the database, Redis and delivery, which restarting the web container would not fix.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=8)"]
CMD ["gunicorn", "webapp:create_app()", "--bind=0.0.0.0:8000", "--threads=4", "--worker-tmp-dir=/dev/shm", \
     "--access-logfile=-", "--access-logformat=%(t)s \"%(m)s %(U)s\" %(s)s %(b)s %(M)sms"]
