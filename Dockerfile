# policy-engine serve in a container, built from the wheel.
#
#   docker build -t policy-engine .
#   docker run --rm -p 8000:8000 policy-engine                    # 2 workers, the bundled policies
#   docker run --rm -p 8000:8000 -v /srv/policies:/policies:ro policy-engine --workers 2 --policies /policies
#   curl -s localhost:8000/readyz
#
# Stage 1 builds the wheel from the same files tests/test_packaging.py builds it from; stage 2
# installs only that wheel (and its dependencies) in a slim image and runs the service as a
# user without privileges. SIGTERM (docker stop) lets the requests in flight finish.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE cli.py ./
COPY policy_engine ./policy_engine
COPY policies ./policies
COPY schemas ./schemas
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl \
    && useradd --system --uid 10001 --home-dir /home/engine --create-home engine
USER engine
WORKDIR /home/engine
ENV POLICY_ENGINE_CACHE=off
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
ENTRYPOINT ["policy-engine", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--workers", "2"]
