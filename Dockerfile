# syntax=docker/dockerfile:1
# Build stage: compile TypeScript; native addons build against this image's own Node.
FROM node:24-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --ignore-scripts && npm run build && npm prune --omit=dev --ignore-scripts

# Runtime stage: compiled code and production dependencies only, as a non-root user.
FROM node:24-slim
ENV NODE_ENV=production \
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
