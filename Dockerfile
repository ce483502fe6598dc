# syntax=docker/dockerfile:1
#
# The eniwatch image: a locked release build of the node agent's package,
# `eniwatch` (agent/), and of the cluster component's, `eniwatch-cluster`
# (cluster/), on distroless/cc. Neither dependency graph holds lab code
# (`cargo tree -p eniwatch -e normal`, `-p eniwatch-cluster`).
#
#   docker build -t eniwatch:0.1.0 .
#
# Why one image for both programs: one tag to build, mirror into a private
# registry, scan and sign, and the two can never run different versions of
# the published facts' schema by accident. The agent is the entrypoint (the
# DaemonSet sets no command); the Deployment chooses the other binary with
# `command: [/usr/local/bin/eniwatch-cluster]`. The cost: each pulls the
# other's binary too, a few MiB.
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
# only the two programs' packages and their dependencies are compiled.
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
    cargo build --release --locked -p eniwatch -p eniwatch-cluster \
 && install -D -m 0755 target/release/eniwatch /out/eniwatch \
 && install -D -m 0755 target/release/eniwatch-cluster /out/eniwatch-cluster \
 && install -D -m 0755 target/release/kubectl-eniwatch /out/kubectl-eniwatch

FROM gcr.io/distroless/cc-debian12:nonroot

LABEL org.opencontainers.image.title="eniwatch" \
      org.opencontainers.image.description="Validator for the AWS VPC CNI's custom networking: node agent (eniwatch) and cluster component (eniwatch-cluster)" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /out/eniwatch /usr/local/bin/eniwatch
COPY --from=build /out/eniwatch-cluster /usr/local/bin/eniwatch-cluster
# `kubectl eniwatch status` for laptops: copy it out of the image onto PATH.
COPY --from=build /out/kubectl-eniwatch /usr/local/bin/kubectl-eniwatch

# distroless's nonroot user; the DaemonSet and the Deployment set the same
# uid and gid.
USER 65532:65532
# 9742: the agent's metrics; 9743: eniwatch-cluster's.
EXPOSE 9742 9743
ENTRYPOINT ["eniwatch"]
CMD ["run"]
