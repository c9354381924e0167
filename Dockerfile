# aidlink: one image for every role (migrate, worker, scheduler, serve, the command line), on Node 24 LTS.
# Two stages. `build` compiles src/ into dist/ with the dev dependencies (TypeScript); the image
# itself holds the production dependencies, dist/, config/ and bin/aidlink.mjs, and runs the
# compiled JavaScript with plain Node: no TypeScript sources, no dev dependencies, and no
# synthetic-county generator (`aidlink demo` and `demo-data` say so and exit 1).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
# src/ only: the generator (tools/demo) is for development, tests and benchmarks, never a county's server
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# typescript is left in by --omit=dev as an optional peer of @bull-board/api (through valibot),
# the lock file marking it "devOptional"; nothing loads it at run time
RUN npm ci --omit=dev --ignore-scripts \
  && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver \
  && npm cache clean --force
# bin/aidlink.mjs runs dist/ when there is no src/ beside it; the defaults of AIDLINK_MAPPING,
# AIDLINK_POLICY and AIDLINK_NAME_VARIANTS are read from config/, found from dist/ as from src/
COPY bin/aidlink.mjs ./bin/
COPY config ./config
COPY --from=build /app/dist ./dist
# runs as the unprivileged `node` user; the inbox is mounted read-only, /data is its own
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "bin/aidlink.mjs"]
CMD ["--help"]
