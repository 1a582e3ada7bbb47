# The production image: the same code and commands as `npm start`, with the
# role given as the command (all | api | worker).
FROM node:20-bookworm-slim

WORKDIR /app
COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly, so it is a runtime dependency; the
# DuckDB and PGlite binaries come inside their npm packages.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
# The dashboard's page sources, bundled by esbuild (a runtime dependency) on first request.
COPY web ./web

RUN mkdir -p /data && chown node:node /data
USER node
ENV HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

ENTRYPOINT ["node", "--import", "tsx", "src/main.ts"]
CMD ["all"]
