# syntax=docker/dockerfile:1
# Either Gozon worker (they are built and run alike; only the workspace and the metrics port differ):
#   orders-worker    the orders outbox relay, the payment-results consumer and the reconciler
#   payments-worker  the payment-request consumer (inbox), the payment processor and the payments relay
# Build from the repository root:
#   docker build -f docker/worker.Dockerfile --build-arg WORKER=orders-worker -t gozon/orders-worker .
#   docker build -f docker/worker.Dockerfile --build-arg WORKER=payments-worker --build-arg METRICS_PORT=9465 \
#     -t gozon/payments-worker .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS base
ENV TURBO_TELEMETRY_DISABLED=1 \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app

# 1. The pruned workspace: only @gozon/$WORKER and the workspaces it depends on.
FROM base AS pruner
ARG TURBO_VERSION=2.11.11
ARG WORKER
RUN test -n "${WORKER}" || (echo "--build-arg WORKER=orders-worker or payments-worker is required" >&2; exit 1)
RUN npm install -g turbo@${TURBO_VERSION}
COPY . .
RUN turbo prune @gozon/${WORKER} --docker

# 2. Build: every dependency, then the Prisma clients.
FROM base AS builder
COPY --from=pruner /app/out/json/ ./
RUN npm ci
COPY --from=pruner /app/out/full/ ./
# turbo prune leaves out the root tsconfig the workspaces extend, and the Prisma CLI reads that chain.
COPY tsconfig.base.json ./
# The Prisma CLI wants a schema-engine binary even for `generate`, which needs none: any file will do.
ENV PRISMA_SCHEMA_ENGINE_BINARY=/app/package.json
RUN npm run generate -w @gozon/db

# 3. Production dependencies only.
FROM base AS prod-deps
COPY --from=pruner /app/out/json/ ./
RUN npm ci --omit=dev && npm cache clean --force

# 4. The runtime image: production dependencies, sources (run by tsx), Prisma clients.
FROM base AS runner
ARG WORKER
ARG METRICS_PORT=9464
ENV NODE_ENV=production \
    METRICS_PORT=${METRICS_PORT}
COPY --from=prod-deps /app/ ./
COPY --from=pruner /app/out/full/ ./
COPY tsconfig.base.json ./
COPY --from=builder /app/packages/db/src/generated ./packages/db/src/generated
USER node
WORKDIR /app/apps/${WORKER}
EXPOSE ${METRICS_PORT}
# The metrics endpoint answers once the worker has reached Postgres and Redis and started its loops
# (with METRICS_TOKEN set, only to that token).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const t = process.env.METRICS_TOKEN; fetch('http://127.0.0.1:' + process.env.METRICS_PORT + '/api/metrics', { headers: t ? { authorization: 'Bearer ' + t } : {} }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--import", "tsx", "src/main.ts"]
