# syntax=docker/dockerfile:1
# Tandem: the server with the browser frontend built in.
#   docker build -t tandem .
#   docker run -p 8000:8000 -e TANDEM_JWT_HS256_SECRET=$(head -c 32 /dev/urandom | base64) tandem
# Three stages: the frontend (Node), the server (Rust), and a small runtime
# image (Debian slim, non-root user, health check) holding only the two results.

FROM node:22-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

FROM rust:1-bookworm AS server
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
COPY bench/ bench/
RUN cargo build --release --locked --bin tandem \
    && strip target/release/tandem

FROM debian:bookworm-slim AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin tandem
COPY --from=server /src/target/release/tandem /usr/local/bin/tandem
COPY --from=frontend /src/frontend/dist /srv/tandem/frontend
ENV TANDEM_LISTEN=0.0.0.0:8000 \
    TANDEM_FRONTEND_DIR=/srv/tandem/frontend \
    RUST_LOG=info
USER 10001:10001
EXPOSE 8000
# `tandem health` asks the node on TANDEM_LISTEN for /healthz (no curl needed).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["tandem", "health"]
# SIGTERM drains (TANDEM_DRAIN_DELAY), tells clients to reconnect, then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tandem"]
