#!/usr/bin/env bash
# Fetches LibTorch 2.11 (CUDA 13) from the PyTorch wheel on PyPI, the version
# the GPU machine and the Docker image run, with the CUDA libraries it loads,
# into a cache outside the build tree; prints the torch root to pass to CMake
# as CMAKE_PREFIX_PATH. Idempotent: a complete cache is reused as it is.
#
# Only what building and loading need is unpacked: torch/{include,lib,share}
# and, from the nvidia-* wheels, the libraries libtorch names (DT_NEEDED),
# laid out as in site-packages so the wheel's RUNPATHs
# ($ORIGIN/../../nvidia/...) find them. About 2 GB downloaded once, 2.5 GB
# kept. The cache: $CRUCIBLE_CACHE (default ~/.cache/crucible).
set -euo pipefail

torch_version=2.11.0
# torch 2.11.0's pins (its Requires-Dist); cuSOLVER and NVRTC are left out:
# only libraries LibTorch loads lazily need them.
wheels=(
  "torch==${torch_version}"
  nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85 nvidia-cublas==13.1.0.3
  nvidia-cufft==12.0.0.61 nvidia-cufile==1.15.1.6 nvidia-curand==10.4.0.35
  nvidia-cusparse==12.6.3.3 nvidia-nvjitlink==13.0.88 nvidia-cudnn-cu13==9.19.0.56
  nvidia-cusparselt-cu13==0.8.0 nvidia-nccl-cu13==2.28.9 nvidia-nvshmem-cu13==3.4.5
)
libraries="libcudart.so.13 libcupti.so.13 libcublas.so.13 libcublasLt.so.13 libcufft.so.12
  libcufile.so.0 libcurand.so.10 libcusparse.so.12 libnvJitLink.so.13 libcudnn.so.9
  libcusparseLt.so.0 libnccl.so.2 libnvshmem_host.so.3"

cache="${CRUCIBLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crucible}"
root="$cache/torch-${torch_version}-cu130"
site="$root/site-packages"
mkdir -p "$cache"
exec 9>"$root.lock"
flock 9                   # two builds at once fetch once
rm -rf "$cache"/.fetch.*  # left by a fetch that was killed (none runs: we hold the lock)

if [ ! -f "$site/.complete" ]; then
  echo "fetching LibTorch ${torch_version} (CUDA 13) wheels into $root (about 2 GB, once)" >&2
  work=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  /usr/bin/python3 -m pip download -q --no-deps --only-binary=:all: -d "$work/wheels" "${wheels[@]}" >&2
  /usr/bin/python3 - "$work/wheels" "$work/site-packages" $libraries <<'EOF'
import pathlib, sys, zipfile
wheels, dest, wanted = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), set(sys.argv[3:])
found = set()
for wheel in sorted(wheels.glob("*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            parts = member.filename.split("/")
            keep = (parts[0] == "torch" and len(parts) > 2 and parts[1] in ("include", "lib", "share")) \
                or (parts[0] == "nvidia" and parts[-1] in wanted)
            if keep and not member.is_dir():
                target = dest / member.filename
                archive.extract(member, dest)
                # zipfile drops the mode bits; the libraries must stay executable.
                target.chmod((member.external_attr >> 16) & 0o777 or 0o644)
                found.add(parts[-1])
missing = wanted - found
if missing:
    sys.exit("fetch-torch-wheel: the wheels lack " + " ".join(sorted(missing)))
EOF
  touch "$work/site-packages/.complete"
  mkdir -p "$root" && rm -rf "$site"
  mv "$work/site-packages" "$site"
fi
echo "$site/torch"
