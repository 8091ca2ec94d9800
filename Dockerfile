# The reference production server (or your own entry: CMD ["start", "./server.ts"]).
#   docker build -t rampart .
#   docker run -p 3000:3000 -e RAMPART_API_KEYS=me=change-me rampart
# Without DATABASE_URL/REDIS_URL it runs on embedded PostgreSQL and in-memory stores.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 3000
# Kubernetes should use /health/live and /health/ready; this is for plain Docker.
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM drains in-flight requests (DRAIN_TIMEOUT_MS) before exiting 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/rampart.mjs"]
CMD ["start"]
