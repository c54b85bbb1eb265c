# One image for all five services; docker-compose.yml picks the service with SERVICE.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY libs libs
COPY services services
COPY schemas schemas
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
# Bind to all interfaces inside the container; the host decides what to publish.
ENV GATEWAY_HOST=0.0.0.0 API_HOST=0.0.0.0 AISPM_OPS_HOST=0.0.0.0
ARG SERVICE=ingest-gateway
ENV SERVICE=${SERVICE}
CMD ["sh", "-c", "exec node services/${SERVICE}/dist/main.js"]
