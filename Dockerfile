# Capstan's container image: built in one stage (native modules compiled, TypeScript and the web UI
# built, dev dependencies pruned), run from a slim Node.js image as an unprivileged user.
#   docker build -t capstan:0.1.0 .
#   docker run -p 5050:5050 -v capstan-data:/var/lib/capstan capstan:0.1.0
ARG NODE_IMAGE=node:20-bookworm

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# better-sqlite3 compiles from source when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 onnxruntime-node
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}-slim AS runtime
ENV NODE_ENV=production \
    CAPSTAN_SERVER_HOST=0.0.0.0 \
    CAPSTAN_DATA_DIR=/var/lib/capstan
RUN groupadd --system --gid 10001 capstan \
 && useradd --system --uid 10001 --gid capstan --home-dir /var/lib/capstan --shell /usr/sbin/nologin capstan \
 && mkdir -p /var/lib/capstan && chown capstan:capstan /var/lib/capstan
WORKDIR /opt/capstan
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/web ./dist/web
COPY docs ./docs
COPY README.md CHANGELOG.md LICENSE ./
USER 10001:10001
VOLUME ["/var/lib/capstan"]
EXPOSE 5050
ENTRYPOINT ["node", "/opt/capstan/bin/capstan.js"]
CMD ["up"]
