# CPU image of crucible built from Debian's packages (LibTorch 1.13 CPU).
# The CUDA image (LibTorch with CUDA on an nvidia/cuda base) comes with the
# validator work; the build below is the same, CUDA is auto-detected by CMake.
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends make sudo && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/crucible
COPY . .
RUN make build && ln -s /opt/crucible/build/apps/crucible /usr/local/bin/crucible
ENTRYPOINT ["crucible"]
