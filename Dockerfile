# The PromptPulse server image: one stateless replica (docs/deploy-scale.md). With
# PROMPTPULSE_STORE_URL=clickhouse://… and PROMPTPULSE_METADATA_URL=postgresql+psycopg://… it keeps
# nothing on its own disk, and any number of them run behind a load balancer.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && useradd --system --uid 10001 --home-dir /data promptpulse \
    && mkdir -p /data && chown promptpulse /data

USER promptpulse
ENV PROMPTPULSE_HOST=0.0.0.0 PROMPTPULSE_PORT=8000 PROMPTPULSE_DATA_DIR=/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"
CMD ["promptpulse", "serve"]
