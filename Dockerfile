# syntax=docker/dockerfile:1
# One image for every app; the container command picks the app:
#   node dist/apps/<ingest|enricher|projector|fanout|cli|asana-simulator>/src/main.js
# Build: docker build -t asana-stream:local .
ARG NODE_IMAGE=node:24-slim

# `npm ci`: exactly the lockfile, which locks every platform's optional native packages, so the
# image's platform finds its own.

# --- build: all deps, swc compiles apps/ and libs/ into dist/ (specs are excluded by .swcrc) ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY .swcrc tsconfig.json nest-cli.json ./
COPY libs ./libs
COPY apps ./apps
RUN npm run build

# --- prod-deps: production dependencies only, installed apart so no dev tool reaches the runtime ---
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

# --- runtime ---
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="asana-stream" \
      org.opencontainers.image.description="Asana webhooks as a Kafka stream and a Postgres copy of Asana" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root: the app user can read but never rewrite its own code
# (Kubernetes also mounts the root filesystem read-only).
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The base image's `node` user, by number: Kubernetes' runAsNonRoot can only verify a numeric UID.
USER 1000:1000
EXPOSE 3000
# Node runs as PID 1 with no shell in between, so SIGTERM reaches the app's own shutdown hooks.
CMD ["node", "dist/apps/ingest/src/main.js"]
