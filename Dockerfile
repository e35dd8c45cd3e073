# Multi-stage build: compile with the Rust toolchain, run on a slim Debian as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Queries are checked against the committed .sqlx/ data: no database needed to build.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked --bin sightline

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home sightline
COPY --from=build /src/target/release/sightline /usr/local/bin/sightline
USER sightline
ENV SIGHTLINE_CONFIG=/etc/sightline/sightline.toml
EXPOSE 8080
ENTRYPOINT ["sightline"]
CMD ["serve"]
