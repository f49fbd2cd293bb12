# The osiris runtime image: the `osiris` CLI, and the GitHub container action when GITHUB_ACTIONS=true.
#
#   docker build -t osiris .
#   docker run --rm -v "$PWD":/work osiris run examples/quickstart.yaml
#
# BASE_IMAGE may be any Debian-like image with python3 (>= 3.11) and its venv module; both stages
# must use the same one, because the venv built in the first is copied into the second.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS builder
# Index and certificate settings for pip, passed with --build-arg when the build machine needs them.
# They exist only in this stage, so they never reach the final image or its history.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# binutils: `strip` for docker/slim.sh. This stage only; the final image has no build tools.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
# /opt/build only builds the wheel (setuptools from pyproject's build-system); /opt/osiris ships,
# without the setuptools that Python 3.11's venv puts in, and with pip, so that an image built
# FROM this one can add component packages.
RUN python3 -m venv /opt/build /opt/osiris \
    && /opt/osiris/bin/pip uninstall --yes --quiet setuptools \
    && /opt/build/bin/pip install --no-cache-dir "setuptools>=77" "wheel>=0.43"
# Dependencies get a layer of their own keyed on pyproject.toml alone: a code change does not
# download and reinstall them.
COPY pyproject.toml docker/requirements.py ./
RUN /opt/build/bin/python requirements.py pyproject.toml db e2b action > requirements.txt \
    && /opt/osiris/bin/pip install --no-cache-dir -r requirements.txt
# Smaller, same features: stripped libraries; no tests, headers or C sources; no pyarrow Flight/S3;
# the packages' modules as compiled .pyc alone.
# It ends by importing and exercising every runtime dependency (docs/container.md).
COPY docker/slim.sh ./
RUN sh slim.sh /opt/osiris
COPY README.md ./
COPY osiris ./osiris
RUN /opt/build/bin/pip wheel --no-cache-dir --no-build-isolation --no-deps --wheel-dir /dist .

# The base image without what no program in the image runs: documentation (the copyright files
# stay), manual pages, translations, the package manager (apt, dpkg, debconf, perl) and the
# libraries only it linked, glibc's extra character sets, Python's test modules
# (docker/system-slim.sh, docs/container.md). Copied into an empty image below as one layer, so
# the removed files do not stay in the base's layers.
FROM ${BASE_IMAGE} AS system
COPY docker/system-slim.sh /tmp/system-slim.sh
RUN sh /tmp/system-slim.sh && rm -f /tmp/system-slim.sh

FROM scratch
# On purpose: this is the flattening described above (the `system` stage is the base image's
# files, not a running system's; /proc, /sys and /dev are empty in it).
# hadolint ignore=DL3067
COPY --from=system / /
ENV PATH="/opt/osiris/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Two layers: the dependencies (unchanged while pyproject.toml is) and the small osiris wheel.
COPY --from=builder /opt/osiris /opt/osiris
COPY --from=builder /dist /tmp/dist
# --no-index: the final stage never talks to a package index.
RUN pip install --no-cache-dir --no-index --no-deps /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && pip check \
    && osiris --version
# docker/entrypoint.sh is executable in git and COPY keeps the mode (--chmod needs BuildKit).
COPY docker/entrypoint.sh /app/docker-entrypoint.sh
COPY entrypoint.py /app/entrypoint.py
# No USER: GitHub runs container actions as root. Everything above is world-readable, so
# `docker run --user "$(id -u):$(id -g)"` works too and leaves the files it writes to the caller.
WORKDIR /work
ENTRYPOINT ["/app/docker-entrypoint.sh"]
# Last, so a new revision changes only this metadata and no layer above.
ARG BASE_IMAGE
ARG OSIRIS_VERSION=dev
ARG OSIRIS_REVISION=unknown
LABEL org.opencontainers.image.title="osiris" \
      org.opencontainers.image.description="Run declarative data pipelines reproducibly: locally, in containers, in GitHub Actions and in E2B sandboxes." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${OSIRIS_VERSION}" \
      org.opencontainers.image.revision="${OSIRIS_REVISION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
