# syntax=docker/dockerfile:1
# tagpin: the admission webhook image (`tagpin serve`). The build stage type-checks the TypeScript
# sources and bundles them with their dependencies into plain JavaScript (`npm run build`, dist/);
# the runtime is distroless Node 24 running that bundle, and nothing else, as a numeric non-root
# user on a read-only root filesystem. No node_modules ship: the bundle carries what it uses.
#
# Base images: pin them by digest when cutting a release (README, "Docker image"):
#   npx tagpin resolve docker.io/library/node:24-bookworm-slim gcr.io/distroless/nodejs24-debian12:nonroot
# and put each printed `name:tag@sha256:…` into the two ARG defaults below.
ARG NODE_IMAGE=docker.io/library/node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing tagpin uses needs one, and the image already brings Node 24.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY src ./src
RUN npx tsc -p . && node scripts/build.ts

FROM ${RUNTIME_IMAGE}
ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="tagpin" \
      org.opencontainers.image.description="Kubernetes admission webhook that pins every container image tag to its digest" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
WORKDIR /app
ENV NODE_ENV=production
# Root-owned and read-only for the runtime user; only /tmp (an emptyDir in the chart) is writable.
COPY --from=build /app/dist ./dist
USER 65532:65532
# Must agree with config.server.port and config.server.metricsPort (the chart's container ports).
EXPOSE 8443 9090
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/tagpin.js"]
CMD ["serve", "--config", "/etc/tagpin/config.yaml"]
