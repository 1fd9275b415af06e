# syntax=docker/dockerfile:1
# One image for every subcommand: `sentinel agent`, `sentinel store`, `sentinel injector`, `sentinel compare`.
#   docker build -t ghcr.io/sentinel/sentinel:0.1.0 .
#   docker run --rm ghcr.io/sentinel/sentinel:0.1.0 --help

# Node 24, the current LTS; CI runs the test suite on it too (.ci/run).
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Build dist/ with the full toolchain: one bundle of src/ and its dependencies (scripts/build.mjs), so the
#    runtime needs no node_modules.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build

# 2. The runtime: dist/ and package.json only (no node_modules, no compiler, no npm cache), a fixed non-root
#    uid (the chart and the injector run as 10001).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system --gid 10001 sentinel \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin sentinel
COPY --from=build /app/dist ./dist
# The bundle reads the version from here (src/version.ts: ../package.json from dist/).
COPY package.json ./
# `sentinel` on PATH (the chart and the injected agent run `sentinel <command>`); cli.js starts with #!/usr/bin/env node.
RUN chmod 0755 dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/sentinel
USER 10001:10001
# OTLP gRPC / HTTP, admin (/metrics /healthz /readyz), store query API, injector webhook.
EXPOSE 4317 4318 8888 3200 8443
# Exec form: node is PID 1 and receives SIGTERM itself; every subcommand drains on SIGTERM and SIGINT
# (stop accepting, flush, exit) within its shutdown_timeout. Nothing is forked, so there are no zombies to reap.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["agent"]
