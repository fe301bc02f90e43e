# syntax=docker/dockerfile:1
# Build stage: compile TypeScript. No toolchain: nothing is compiled on install (--ignore-scripts);
# libSQL comes as a prebuilt binary package for the platform (@libsql/linux-<arch>-gnu), and the
# only packages with install scripts are development tools (esbuild, sharp), pruned below.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# dependencies in their own layer: a change to src/ does not reinstall them
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

# Runtime stage: compiled code and production dependencies only, as a non-root user.
FROM node:24-slim
# the young-generation cap and malloc arenas of bin/feedgen.js's shebang, which
# `node bin/feedgen.js` does not read
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=8 \
    MALLOC_ARENA_MAX=2 \
    FEEDGEN_DB=file:/data/feedgen.db \
    FEEDGEN_PORT=3000 \
    FEEDGEN_LISTEN_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY drizzle ./drizzle
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.FEEDGEN_PORT||3000)+'/xrpc/_health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/app/bin/feedgen.js"]
CMD ["serve"]
