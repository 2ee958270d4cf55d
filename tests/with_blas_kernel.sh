#!/usr/bin/env bash
# with_blas_kernel.sh KERNEL COMMAND...: runs COMMAND with the CPU kernels
# another x86-64 machine would get, where this CPU can run them. Machines
# differ in floating-point rounding exactly there: the BLAS kernel (OpenBLAS
# for Debian's LibTorch, MKL for the PyTorch wheel's), oneDNN's and ATen's own
# vectorised kernels. KERNEL is an OpenBLAS core name: Prescott (SSE only),
# Haswell and Zen (AVX2 + FMA), SkylakeX (AVX-512). Exits 77, which ctest
# reports as skipped, when this CPU lacks the instructions.
set -euo pipefail
kernel=$1
shift
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
need() {
  for flag in "$@"; do
    if [[ "$flags" != *" $flag "* ]]; then
      echo "SKIP: this CPU lacks $flag, which the $kernel kernels need"
      exit 77
    fi
  done
}
case "$kernel" in
  Prescott) mkl=SSE4_2 onednn=SSE41 aten=default ;;
  Haswell | Zen) need avx2 fma; mkl=AVX2 onednn=AVX2 aten=avx2 ;;
  SkylakeX) need avx512f avx512dq avx512bw avx512vl; mkl=AVX512 onednn=AVX512_CORE aten=avx512 ;;
  *) echo "with_blas_kernel.sh: unknown kernel '$kernel'" >&2; exit 2 ;;
esac
echo "kernels: OpenBLAS $kernel, MKL $mkl, oneDNN $onednn, ATen $aten"
OPENBLAS_CORETYPE=$kernel MKL_ENABLE_INSTRUCTIONS=$mkl ONEDNN_MAX_CPU_ISA=$onednn \
  ATEN_CPU_CAPABILITY=$aten exec "$@"
