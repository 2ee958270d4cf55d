// Debian 12's OpenBLAS (0.3.21) does not recognise some recent x86 CPUs
// (Sapphire Rapids, many cloud VMs that report a generic model) and falls back
// to its SSE3 "Prescott" kernels, which run the native models' matrix
// products about 1.7x slower than its AVX2 kernels. OpenBLAS reads its choice
// only when it loads, from OPENBLAS_CORETYPE.
#pragma once

namespace crucible {

// When OpenBLAS chose Prescott, the CPU has AVX2 and FMA, and the user has
// not set OPENBLAS_CORETYPE: sets OPENBLAS_CORETYPE=Haswell and re-executes
// this program with the same arguments (returns only when that is not done
// or fails). Does nothing for any other BLAS.
void reexec_if_openblas_misdetected_cpu(char** argv);

}  // namespace crucible
