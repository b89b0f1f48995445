# syntax=docker/dockerfile:1.7
# One multi-stage file, one image per service, all built with uv from the committed lock:
#
#   docker build --target api        -t housing-api .         # FastAPI on :8000
#   docker build --target ui         -t housing-ui .          # Streamlit on :8501
#   docker build --target dagster    -t housing-dagster .     # code server :4000, webserver :3000,
#                                                             # daemon (command chosen by the task)
#
# Every target runs as a non-root user and has a HEALTHCHECK; CI lints this file (hadolint) and
# runs each target's exact command from the installed project (tests/deploy).
#
# Base images by digest: the deploy workflow resolves each tag below (the syntax frontend too) to
# its digest once and builds from `tag@sha256:...` (deploy/compose/pin_images.py). To commit the
# pins, run `python3 deploy/compose/pin_images.py Dockerfile docker-compose.yml` where Docker Hub
# answers; to move to a newer base later, delete the `@sha256:...` and run it again.

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir "uv==0.13.9" \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin housing \
 && mkdir -p /data && chown housing /data
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
ENV PATH=/opt/venv/bin:$PATH \
    HOUSING_HOME=/data

# Each target installs only its own dependencies: the core (what scoring needs) plus its group
# from pyproject.toml -- no Dagster, MLflow, Optuna or great-expectations in the API or the
# dashboard, no Streamlit in the API. Dependencies first (a layer reused until uv.lock changes),
# then the code. tests/deploy/test_lean_images.py builds each target's environment with the same
# `uv sync` flags and runs the target's command in it.

# --- the prediction API --------------------------------------------------------------------------
FROM base AS api
RUN uv sync --frozen --no-default-groups --no-install-project
COPY housing_core ./housing_core
COPY housing_assets ./housing_assets
COPY housing_serving ./housing_serving
COPY housing_ui ./housing_ui
RUN uv sync --frozen --no-default-groups
USER 10001
ENV HOUSING_SERVING_POLL_SECONDS=10
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=4).status != 200)"]
# housing_serving.protocol.uvicorn_command("0.0.0.0", 8000), as tests/deploy asserts: uvicorn with
# the header and idle timeouts it lacks.
CMD ["uvicorn", "housing_serving.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "1", "--no-access-log", "--http", "housing_serving.protocol:GuardedHttp", "--timeout-keep-alive", "5", "--no-server-header"]

# --- the dashboard -------------------------------------------------------------------------------
FROM base AS ui
RUN uv sync --frozen --no-default-groups --group ui --no-install-project
COPY housing_core ./housing_core
COPY housing_assets ./housing_assets
COPY housing_serving ./housing_serving
COPY housing_ui ./housing_ui
RUN uv sync --frozen --no-default-groups --group ui
USER 10001
ENV HOUSING_UI_API_URL=http://api:8000
EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"]
CMD ["streamlit", "run", "housing_ui/app.py", "--server.port", "8501", "--server.address", "0.0.0.0", "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]

# --- Dagster: code location (default command), webserver and daemon (commands in the task defs) ---
FROM base AS dagster
RUN uv sync --frozen --no-default-groups --group pipeline --no-install-project
COPY housing_core ./housing_core
COPY housing_assets ./housing_assets
COPY housing_serving ./housing_serving
COPY housing_ui ./housing_ui
COPY workspace.yaml dagster.yaml ./
COPY deploy ./deploy
RUN uv sync --frozen --no-default-groups --group pipeline
USER 10001
ENV DAGSTER_HOME=/app/deploy \
    HOUSING_ENV=prod
EXPOSE 4000 3000
# Probes the code server, the default command; docker-compose.yml gives the webserver, daemon
# and MLflow containers (other commands from this image) checks of their own.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "housing_assets.definitions"]
