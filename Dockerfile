# syntax=docker/dockerfile:1
# The controller image: `modelrollout controller ...`.
#   docker build -t ghcr.io/modelrollout/modelrollout:0.1.0 .
# It holds the whole package, so it also runs `modelrollout router`: routers use this image
# unless a rollout sets spec.router.image (router/Dockerfile builds a slimmer router-only one).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/modelrollout
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controller ./controller
COPY router ./router
# Bytecode is compiled here: at run time the root filesystem may be read-only.
RUN /opt/modelrollout/bin/pip install . \
 && /opt/modelrollout/bin/python -m compileall -q /opt/modelrollout

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="modelrollout-controller" \
      org.opencontainers.image.description="ModelRollout operator: progressive delivery for ML models on Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 65532 modelrollout \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin modelrollout
COPY --from=build /opt/modelrollout /opt/modelrollout
ENV PATH=/opt/modelrollout/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Numeric, so Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["modelrollout"]
CMD ["controller", "--metrics-listen", "0.0.0.0:8080"]
