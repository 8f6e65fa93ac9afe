# fraudwatch daemon image. Build: docker build -t fraudwatch .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# patches/ fixes kafkajs's read_committed filter; `npm ci` applies it (postinstall).
COPY patches ./patches
COPY src ./src
COPY bin ./bin
# `npm ci` runs "prepare", which compiles src/ to dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    FRAUDWATCH_HTTP_HOST=0.0.0.0 \
    FRAUDWATCH_HTTP_PORT=9464
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY rules ./rules
COPY package.json ./
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM reaches node directly (exec form), so shutdown is graceful.
ENTRYPOINT ["node", "bin/fraudwatch.js"]
CMD ["run", "--rules", "rules/default.yaml"]
