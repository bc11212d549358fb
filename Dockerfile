# mlscale serve in a container: onnxruntime's CPU binaries only, a non-root user, the model
# repository as a volume, and a health check on the protocol's liveness endpoint.
#
#   podman build -t mlscale:0.1.0 .          (or: docker build -t mlscale:0.1.0 .)
#   podman run --rm -p 8000:8000 -v ./models:/models:ro,Z mlscale:0.1.0
#
# The tag is the one `mlscale deploy k8s` and `mlscale deploy kserve` put in their manifests
# (mlscale:<version of package.json>). docs/deploy.md has the details.

# --- build: compile TypeScript with the dev dependencies --------------------------------------
FROM docker.io/library/node:20-bookworm-slim AS build
WORKDIR /app
# .npmrc skips onnxruntime-node's install script, which would download GPU libraries: the
# CPU binaries ship inside the npm package itself (bin/napi-v*/<os>/<arch>/).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# --- deps: production dependencies only, onnxruntime for this platform only -----------------
FROM docker.io/library/node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
  && arch="$(node -p process.arch)" \
  && for dir in node_modules/onnxruntime-node/bin/napi-v*/; do \
       find "$dir" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + ; \
       find "$dir/linux" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} + ; \
     done \
  && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------
FROM docker.io/library/node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 mlscale \
  && useradd --system --uid 10001 --gid mlscale --home-dir /app --shell /usr/sbin/nologin mlscale \
  && mkdir /models && chown mlscale:mlscale /models
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY bin ./bin
COPY src/dashboard/static ./src/dashboard/static
COPY data ./data
USER 10001:10001
# The model repository: <model>/<version>/model.onnx, with config.pbtxt or config.json beside.
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8000/v2/health/live').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/mlscale.js"]
CMD ["serve", "--model-repository", "/models", "--host", "0.0.0.0", "--port", "8000"]
