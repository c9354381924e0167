# aidlink: one image for every role (migrate, ingest, and later worker/scheduler/server), on Node 24 LTS.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY config ./config
COPY src ./src
COPY tsconfig.json ./
# runs as the unprivileged `node` user; the inbox is mounted read-only, /data is its own
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "bin/aidlink.mjs"]
CMD ["--help"]
