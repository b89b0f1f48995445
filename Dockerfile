# syntax=docker/dockerfile:1.7
# First version: one image for the Dagster code location (gRPC code server), built with uv from
# the committed lock. The API, dashboard and webserver/daemon targets arrive with their issues.
# Build: docker build --target dagster-code -t housing-dagster .

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
# Dependencies first: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY housing_assets ./housing_assets
COPY housing_serving ./housing_serving
COPY housing_ui ./housing_ui
COPY workspace.yaml dagster.yaml ./
RUN uv sync --frozen --no-dev \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin housing \
 && mkdir -p /data && chown housing /data
ENV PATH=/opt/venv/bin:$PATH \
    HOUSING_HOME=/data \
    DAGSTER_HOME=/app \
    HOUSING_DAGSTER_STORAGE=/data/dagster
USER housing

FROM base AS dagster-code
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
  CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "housing_assets.definitions"]
