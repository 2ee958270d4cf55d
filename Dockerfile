# syntax=docker/dockerfile:1
# crucible images (docs/docker.md):
#   docker build -t crucible:cuda .              GPU image, CUDA 13.0 (the last stage, `runtime`);
#                                                host driver 580 or newer
#   docker build -t crucible:cuda12 \            GPU image, CUDA 12.8; host driver 570 or newer
#     --build-arg CUDA_DEVEL_IMAGE=nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04 \
#     --build-arg CUDA_RUNTIME_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04 \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
#                                                (the build args of docker-compose.cuda12.yml)
#   docker build -t crucible:cpu --target cpu .  CPU-only image (Debian 12 packages)
# The GPU image builds crucible with CUDA against the LibTorch of the PyTorch
# wheel of TORCH_INDEX_URL (cu130 by default, as scripts/device-build-and-test.sh
# uses on the GPU machine) and ships only the binary, the libraries it loads,
# and the bridge's venv. The CUDA version of the base images must be the
# wheel's (13.0 with cu130, 12.8 with cu128, 12.6 with cu126).
# Base images are pinned by tag; pin by digest (`image:tag@sha256:...`) through
# these build arguments for byte-for-byte rebuilds.
ARG CUDA_DEVEL_IMAGE=nvidia/cuda:13.0.1-cudnn-devel-ubuntu24.04
ARG CUDA_RUNTIME_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04
ARG CPU_IMAGE=debian:bookworm

# ---------------------------------------------------------------------------
# build: crucible with CUDA kernels, linked against the wheel's LibTorch.
FROM ${CUDA_DEVEL_IMAGE} AS build
ARG TORCH_VERSION=2.11.*
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130
# crucible's own kernels: sm_75 (T4), sm_80 (A100; also run on sm_86 A10,
# A40, RTX 30xx), sm_89 (L4, L40, RTX 40xx), sm_90 (H100, H200). PyTorch 2.11's
# cu130, cu128 and cu126 wheels carry sm_75, sm_80, sm_86 and sm_90 kernels
# (their sm_86 ones serve sm_89).
ARG CUDA_ARCHITECTURES="75;80;89;90"
ARG CMAKE_VERSION=4.4.*
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ninja-build g++ python3 python3-venv \
      nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev \
      libgtest-dev libbenchmark-dev libssl-dev libcurl4-openssl-dev libcpp-httplib-dev \
      libopenblas-openmp-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
# LibTorch (CUDA 13, or 12 for the cuda12 variant) from the PyTorch wheel;
# its CUDA libraries come as nvidia-* wheels next to it in site-packages.
# CMake from PyPI: CUDA 13 moved the CCCL headers (include/cccl), which CMake
# adds to CUDA targets from 3.31.9 on; Ubuntu 24.04 has 3.28. CUDA 12.x keeps
# them in include/, where any CMake finds them: the same CMake serves both.
RUN python3 -m venv /opt/torch \
 && /opt/torch/bin/pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}" \
 && /opt/torch/bin/pip install --no-cache-dir "cmake==${CMAKE_VERSION}"
ENV PATH=/opt/torch/bin:${PATH}
WORKDIR /src
COPY CMakeLists.txt CMakePresets.json ./
COPY include/ include/
COPY common/ common/
COPY cuda/ cuda/
COPY engine/ engine/
COPY validator/ validator/
COPY apps/ apps/
# No .git in the context (.dockerignore): `crucible --version` reports commit "unknown".
# The torch root as the prefix (CMake then finds the wheel's own libraries
# first). CMakeLists.txt sets TORCH_CUDA_ARCH_LIST from CMAKE_CUDA_ARCHITECTURES,
# puts the system fmt ahead of the wheel's and links libstdc++ ahead of libtorch,
# as make test-wheel checks on every submission.
RUN torch_root=$(/opt/torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))') \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="${torch_root}" -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHITECTURES}" \
      -DCRUCIBLE_REQUIRE_CUDA=ON -DCRUCIBLE_BUILD_TESTS=OFF -DCRUCIBLE_BUILD_BENCHMARKS=OFF \
      -DBLA_VENDOR=OpenBLAS \
 && cmake --build build --target crucible -j "$(nproc)"
# Stage what the runtime image needs under /stage, at the same absolute paths
# (the binary's RUNPATH names the wheel's torch/lib; the wheel's libraries
# find the nvidia-* ones relative to themselves):
#   /usr/local/bin/crucible
#   /opt/torch/.../site-packages/{torch/lib, nvidia, every other package the binary loads from}
#   /opt/crucible/lib: the Ubuntu libraries it loads (spdlog, fmt, OpenBLAS, libcurl, ...),
#     except glibc, libstdc++/libgcc and the CUDA runtime, which the runtime base has.
RUN site=$(/opt/torch/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && bin=build/apps/crucible \
 && mkdir -p /stage/usr/local/bin /stage/opt/crucible/lib "/stage${site}/torch" \
 && cp "${bin}" /stage/usr/local/bin/crucible \
 && cp -a "${site}/torch/lib" "/stage${site}/torch/lib" \
 && { echo nvidia; ldd "${bin}" | awk -v s="${site}/" '$3 ~ "^"s {sub("^"s, "", $3); split($3, p, "/"); print p[1]}'; } \
    | sort -u | grep -vx torch | while read -r pkg; do \
        if [ -d "${site}/${pkg}" ]; then cp -a "${site}/${pkg}" "/stage${site}/${pkg}"; fi; done \
 && ldd "${bin}" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do \
      case "${lib}" in \
        "${site}"/*|/usr/local/cuda*|*/libc.so.*|*/libm.so.*|*/libpthread.so.*|*/libdl.so.*|*/librt.so.*|*/ld-linux*|*/libstdc++.so.*|*/libgcc_s.so.*) ;; \
        *) cp -L "${lib}" /stage/opt/crucible/lib/ ;; \
      esac; done \
 && if ldd "${bin}" | grep 'not found' | grep -v 'libcuda\.so'; then echo "unresolved libraries" >&2; exit 1; fi

# ---------------------------------------------------------------------------
# bridge-venv: the Python bridge's pinned dependencies, built on the runtime
# base so the venv's interpreter path is the runtime image's.
FROM ${CUDA_RUNTIME_IMAGE} AS bridge-venv
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# Every dependency pinned with its hashes (bridge/requirements.lock): pip
# installs exactly those files and resolves nothing; pip check fails the build
# when the lock misses a dependency for this Python.
COPY bridge/requirements.lock /tmp/bridge-requirements.lock
RUN python3 -m venv /opt/bridge-venv \
 && /opt/bridge-venv/bin/pip install --no-cache-dir --no-deps --require-hashes -r /tmp/bridge-requirements.lock \
 && /opt/bridge-venv/bin/pip check

# ---------------------------------------------------------------------------
# cpu: CPU-only image, built as `make build` does on Debian 12 (Debian's
# LibTorch, scripts/install-deps.sh). docker build --target cpu .
FROM ${CPU_IMAGE} AS cpu
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends make ca-certificates curl python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/crucible
COPY . .
RUN CRUCIBLE_RUNTIME_ONLY=1 make build \
      CMAKE_FLAGS="-DCRUCIBLE_ENABLE_CUDA=OFF -DCRUCIBLE_BUILD_TESTS=OFF -DCRUCIBLE_BUILD_BENCHMARKS=OFF" \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /opt/crucible/build/apps/crucible /usr/local/bin/crucible \
 && python3 -m venv /opt/bridge-venv \
 && /opt/bridge-venv/bin/pip install --no-cache-dir --no-deps --require-hashes -r bridge/requirements.lock \
 && /opt/bridge-venv/bin/pip check \
 && crucible validator --help | grep -e --http-bind >/dev/null \
 && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin crucible \
 && mkdir -p /data/chain /data/state \
 && chown -R crucible:crucible /data
ENV PYTHONPATH=/opt/crucible/bridge
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9184
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9184/healthz"]
ENTRYPOINT ["crucible"]
# The status endpoint listens on every interface of the container (publish it
# with -p 127.0.0.1:9184:9184); the health check asks it on the loopback.
CMD ["validator", "--chain", "local:/data/chain", "--state-dir", "/data/state", "--hub-endpoint", "https://huggingface.co", "--device", "cpu", "--http-bind", "0.0.0.0"]

# ---------------------------------------------------------------------------
# chartjs: Debian's Chart.js (libjs-chart.js), which the dashboard and
# `crucible report` inline into their pages.
FROM ${CPU_IMAGE} AS chartjs
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjs-chart.js \
 && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------------------
# runtime (default target): the CUDA runtime base, the binary, the libraries
# it loads, and the bridge (`/opt/bridge-venv/bin/python -m crucible_bridge`).
FROM ${CUDA_RUNTIME_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl python3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /stage/ /
COPY --from=bridge-venv /opt/bridge-venv /opt/bridge-venv
COPY --from=chartjs /usr/share/javascript/chart.js/chart.min.js /usr/share/javascript/chart.js/
COPY bridge/ /opt/crucible/bridge/
# The copied Ubuntu libraries go on the loader path; the image fails to build
# when a library is missing (libcuda comes from the host's driver at run time).
RUN echo /opt/crucible/lib > /etc/ld.so.conf.d/crucible.conf \
 && ldconfig \
 && if ldd /usr/local/bin/crucible | grep 'not found' | grep -v 'libcuda\.so'; then exit 1; fi \
 && crucible --version \
 && crucible validator --help | grep -e --http-bind >/dev/null \
 && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin crucible \
 && mkdir -p /data/chain /data/state \
 && chown -R crucible:crucible /data
ENV PYTHONPATH=/opt/crucible/bridge
USER 10001:10001
WORKDIR /data
# /data/chain: the local chain the bridge mirrors; /data/state: the validator's
# state directory (its installed models are in /data/state/models).
VOLUME ["/data"]
# The status endpoint: port 9184 on every interface of the container
# (--http-bind 0.0.0.0 below; publish it with -p 127.0.0.1:9184:9184); the
# health check asks it on the container's loopback.
EXPOSE 9184
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9184/healthz"]
ENTRYPOINT ["crucible"]
CMD ["validator", "--chain", "local:/data/chain", "--state-dir", "/data/state", "--hub-endpoint", "https://huggingface.co", "--http-bind", "0.0.0.0"]
