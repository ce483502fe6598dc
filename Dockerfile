# syntax=docker/dockerfile:1
#
# The eniwatch node agent image: a locked release build of the node agent's
# package, `eniwatch` (agent/), on distroless/cc. Its dependency graph holds
# no lab code (`cargo tree -p eniwatch -e normal`).
#
#   docker build -t eniwatch:0.1.0 .
#
# Why distroless/cc and not static: the binary links glibc dynamically (TLS is
# rustls with aws-lc-rs, so no OpenSSL, but libc, libm and libgcc_s are
# needed); distroless/cc has exactly those, plus CA certificates and
# /etc/passwd with the nonroot user (65532), and no shell or package manager.
# docs/install.md has the details (multi-arch builds, pinning by digest).

# The builder's Rust must be at least Cargo.toml's rust-version (checked by
# scripts/check-ship.sh).
FROM rust:1.95-bookworm AS build
WORKDIR /src

# Only what the build reads (.dockerignore keeps the context to these too).
# Cargo reads every workspace member's manifest, so all members are copied;
# only the node agent's package and its dependencies are compiled.
COPY Cargo.toml Cargo.lock ./
COPY core ./core
COPY agent ./agent
COPY ec2 ./ec2
COPY cluster ./cluster
COPY lab ./lab

# --locked: exactly the dependency versions of Cargo.lock.
# The cache mounts keep the registry and target directory between builds; the
# binary is copied out of the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p eniwatch \
 && install -D -m 0755 target/release/eniwatch /out/eniwatch

FROM gcr.io/distroless/cc-debian12:nonroot

LABEL org.opencontainers.image.title="eniwatch" \
      org.opencontainers.image.description="Per-node validator for the AWS VPC CNI's custom networking" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /out/eniwatch /usr/local/bin/eniwatch

# distroless's nonroot user; the DaemonSet sets the same uid and gid.
USER 65532:65532
EXPOSE 9742
ENTRYPOINT ["eniwatch"]
CMD ["run"]
