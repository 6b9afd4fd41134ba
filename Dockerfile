# Two stages: wheels are built with the compilers, the final image has only what runs.
# Pinned to an exact release: a rebuild gets the same interpreter and Debian.
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    HEALTH_LISTEN=0.0.0.0 \
    HEALTH_PORT=8080 \
    WEBHOOK_LISTEN=0.0.0.0
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /data \
    && chown bot:bot /data
USER bot
WORKDIR /home/bot
VOLUME ["/data"]
EXPOSE 8080 8443
# Healthy while updates arrive (polling loop or webhook server) and the database takes writes.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
# SIGTERM starts a graceful stop: requests in flight get SHUTDOWN_GRACE_SECONDS (30 s) to finish,
# so give the container more than that (docker stop -t 40, compose stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
