# syntax=docker/dockerfile:1
#
# naftiko-runtime: serve Naftiko capability specs as REST (:8080) and MCP (:9090), with the
# control plane (health, metrics, status, traces) on :9191 inside the container only: it has
# no authentication, so it listens on the container's loopback, where the HEALTHCHECK
# reaches it. To scrape metrics from outside, serve `--control 0.0.0.0:9191` on a network
# only the scraper reaches, or declare a control adapter with `authentication`.
#
#   docker build -t naftiko-runtime:0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp --stop-timeout 40 \
#     -p 8080:8080 -p 9090:9090 -e LETTA_API_KEY \
#     naftiko-runtime:0.1.0
#
# The image serves the capability files in /etc/naftiko/capabilities: the bundled Letta
# examples by default; mount a directory of your own there to replace them
# (-v "$PWD/my-capabilities:/etc/naftiko/capabilities:ro", or a ConfigMap in Kubernetes,
# see deploy/kubernetes/). Secrets named by a spec's `binds` come from the environment;
# NAFTIKO_UPSTREAM=ns=url,ns2=url2 sends consumed namespaces elsewhere.
#
# After SIGTERM the process keeps serving for --drain-delay (readiness 503), then gives
# requests in flight --grace seconds: let the supervisor wait longer than their sum
# (docker's default stop timeout is 10 s, hence --stop-timeout 40 above).
#
# Needs BuildKit (the default builder since Docker 23) for RUN --mount.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------
# Stage 1: wheels for the project and every dependency, with every extra (`[all]`: scripts,
# the heavier formats, tracing, the alternative clients), as the image serves any spec. The
# dependencies all publish manylinux wheels, so nothing is compiled here; the project itself
# is a pure-Python wheel built by its declared backend (hatchling, fetched by pip's isolated
# build).
FROM ${PYTHON_IMAGE} AS wheels

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
# Only what the wheel is built from (pyproject.toml force-includes schemas/ and
# capabilities/, and reads README.md as the long description).
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY capabilities/ capabilities/
COPY naftiko_runtime/ naftiko_runtime/

# The cache mount speeds rebuilds and is never part of an image layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --prefer-binary --wheel-dir /wheels ".[all]"

# ---------------------------------------------------------------------------------------
# Stage 2: the runtime. Installs the wheels above and nothing else: no index, no compiler,
# no pip cache, and the wheels themselves are bind-mounted, never copied into a layer.
FROM ${PYTHON_IMAGE} AS runtime

# Re-declared so the label below can name the base (a global ARG is not seen in a stage).
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
ARG SOURCE=""

LABEL org.opencontainers.image.title="naftiko-runtime" \
      org.opencontainers.image.description="Validate Naftiko capability specs and serve them as REST and MCP" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}" \
      io.naftiko.capabilities.path="/etc/naftiko/capabilities"

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

# pip compiles the installed modules to .pyc here, at build time, so nothing needs writing
# at run time. The user is created with a fixed UID/GID (also in the Kubernetes manifests).
# The versions are the wheels' of stage 1 (no index): nothing to pin here.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels "naftiko-runtime[all]" \
    && groupadd --system --gid 10001 naftiko \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
       --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin naftiko

# Default capabilities: the bundled examples (owned by root, read-only for the server).
# Not a VOLUME on purpose: images built FROM this one can COPY their own files here, and a
# bind mount or a ConfigMap replaces the directory anyway.
COPY capabilities/ /etc/naftiko/capabilities/

# Read-only root filesystem: no bytecode writes, HOME and temporary files under /tmp (the
# only writable path: --tmpfs /tmp with docker, an emptyDir in Kubernetes).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    HOME=/tmp \
    TMPDIR=/tmp

WORKDIR /etc/naftiko
USER 10001:10001

EXPOSE 8080 9090

# `health` exits 0 when /health/ready is 200, 1 while starting or draining, and 2 when the
# control port cannot be reached; docker reserves 2, hence `|| exit 1`. Its output (the
# adapters' states, or why the port was unreachable) shows in `docker inspect`. It needs
# the control port of CMD below: keep --control 127.0.0.1:9191 when overriding CMD.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/bin/sh", "-c", "naftiko-runtime health --control http://127.0.0.1:9191 || exit 1"]

STOPSIGNAL SIGTERM

ENTRYPOINT ["naftiko-runtime"]
CMD ["serve", "/etc/naftiko/capabilities", \
     "--host", "0.0.0.0", \
     "--control", "127.0.0.1:9191", \
     "--drain-delay", "5", \
     "--grace", "30", \
     "--log-format", "json"]
