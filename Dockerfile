# syntax=docker/dockerfile:1.7
# LogTriage: the Streamlit dashboard and the `logtriage` CLI (the eval CronJob) in one image.
# Runs as uid 10001 with a read-only root filesystem: HOME, XDG and Streamlit's config live on the
# /tmp emptyDir, DATA_DIR and CACHE_DIR on their own writable mounts (k8s/apps/base/logtriage).

# Both stages use the same Python image: the virtualenv's interpreter links to its /usr/local/bin.
FROM python:3.11.14-slim-trixie AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/
# Use the image's Python, install into /app/.venv, compile bytecode now (the runtime cannot write it).
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, so this layer is reused until pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
# The project itself, installed editable so app/config.py finds prompts/ and golden/ next to it.
# README.md is the package's readme (hatchling reads it).
COPY README.md streamlit_app.py ./
COPY .streamlit/ .streamlit/
COPY app/ app/
COPY app_pages/ app_pages/
COPY prompts/ prompts/
COPY golden/ golden/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

FROM python:3.11.14-slim-trixie AS runtime
ARG UID=10001
# The git revision the image is built from (docker build --build-arg REVISION=$(git rev-parse HEAD));
# the image has no .git, and logtriage_build_info reports it.
ARG REVISION=unknown
RUN groupadd --system --gid "${UID}" logtriage \
    && useradd --system --uid "${UID}" --gid "${UID}" --home-dir /tmp --no-create-home \
       --shell /usr/sbin/nologin logtriage \
    && install --directory --owner="${UID}" --group="${UID}" /var/lib/logtriage /var/cache/logtriage
# Owned by root and read-only for the app user.
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    XDG_CONFIG_HOME=/tmp/.config \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_DATA_HOME=/tmp/.local/share \
    MPLCONFIGDIR=/tmp/.config/matplotlib \
    DATA_DIR=/var/lib/logtriage \
    CACHE_DIR=/var/cache/logtriage \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    BUILD_REVISION=${REVISION}
USER 10001:10001
# 8501: Streamlit; 9464: Prometheus /metrics (METRICS_PORT).
EXPOSE 8501 9464
# For `docker run`; Kubernetes ignores it and uses the Deployment's probes on the same endpoint.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/logtriage/_stcore/health', timeout=4)"]
# The launcher serves /metrics (9464) from process start, then runs `streamlit run streamlit_app.py`.
CMD ["logtriage-dashboard", \
     "--server.port", "8501", "--server.address", "0.0.0.0", \
     "--server.baseUrlPath", "logtriage", "--server.enableXsrfProtection", "true", \
     "--server.headless", "true"]
