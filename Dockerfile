# fraudwatch daemon image. Build: docker build -t fraudwatch .
#
# Node 24 (LTS, supported until April 2028): the code needs Node 20 or newer, and Node 20 is
# past its end of life and 22 is in its last months, so the image takes the newest LTS.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# Dependencies first, in a layer of their own: a change to src/ reuses it instead of
# reinstalling. --ignore-scripts because the package's "prepare" compiles src/, which is not
# here yet (no dependency has an install script); "postinstall" is run by hand: patches/ fixes
# kafkajs's read_committed filter.
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run postinstall
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
WORKDIR /app
# FRAUDWATCH_RULES is the rules file (watched: a change is applied without a restart); mount
# a directory over /app/rules to bring your own (see docker-compose.yml).
ENV NODE_ENV=production \
    FRAUDWATCH_HTTP_HOST=0.0.0.0 \
    FRAUDWATCH_HTTP_PORT=9464 \
    FRAUDWATCH_RULES=/app/rules/default.yaml
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json LICENSE ./
COPY bin ./bin
COPY rules ./rules
USER node
EXPOSE 9464
# Ready means joined to the group with fetches and the producer healthy; the start period covers
# loading the geolocation database and joining the group. The port is read when the probe runs,
# so a FRAUDWATCH_HTTP_PORT set at `docker run` is the one probed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FRAUDWATCH_HTTP_PORT || 9464) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself, in exec form (the base image's entrypoint execs it): SIGTERM and SIGHUP reach the
# daemon, so shutdown is graceful and SIGHUP reloads the rules. Settings come from FRAUDWATCH_*.
# The node flags are those of bin/fraudwatch.js's #! line (why: see there).
CMD ["node", "--max-semi-space-size=64", "bin/fraudwatch.js", "run"]
