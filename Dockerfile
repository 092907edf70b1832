# aiops operator image: `aiops run` (kopf operator + API on :8080) as a non-root user.
#
#   docker build -t aiops:dev .
#   docker run --rm -e REDIS_URL=redis://host:6379/0 -v ~/.kube:/home/aiops/.kube:ro aiops:dev
#
# Dependencies are installed with the repository's pins (constraints.txt) in a build stage;
# the runtime stage gets only the virtualenv, the built-in playbooks and no build tools.
# In Kubernetes use the Helm chart (charts/aiops): probes, read-only root filesystem, RBAC.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/aiops
ENV PATH=/opt/aiops/bin:$PATH
WORKDIR /src

# Third-party dependencies first, in their own layer: source edits do not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt

# Then aiops itself (a regular, non-editable install; the package data carries the default
# rules and built-in playbooks).
COPY README.md ./
COPY aiops ./aiops
RUN pip install -c constraints.txt . \
    && aiops --help >/dev/null \
    && ! python -c "import kmock" 2>/dev/null && ! python -c "import fakeredis" 2>/dev/null

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

# OCI image annotations (github.com/opencontainers/image-spec, annotations.md). Pass the build's
# facts: docker build --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#   --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -t aiops:0.1.0 .
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="aiops" \
      org.opencontainers.image.description="Kubernetes AIOps operator: incidents, playbooks, remediation behind approvals" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/aiops-dev/aiops" \
      org.opencontainers.image.url="https://github.com/aiops-dev/aiops" \
      org.opencontainers.image.documentation="https://github.com/aiops-dev/aiops/blob/main/docs/install.md" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/aiops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 aiops \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/aiops --create-home \
        --shell /usr/sbin/nologin aiops

COPY --from=build /opt/aiops /opt/aiops
# The built-in playbooks as files, to copy and adapt (the operator loads the same ones from the
# installed package; mount your own and list them in AIOPS_PLAYBOOK_DIRS / playbook_dirs).
COPY playbooks/ /opt/aiops/share/playbooks/

WORKDIR /home/aiops
# Numeric, so Kubernetes can verify runAsNonRoot without resolving the name.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["aiops"]
CMD ["run"]
