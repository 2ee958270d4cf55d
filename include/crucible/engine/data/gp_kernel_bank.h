// The kernel bank of the synthetic GP dataset (docs/scoring.md section 1): twelve
// kernel families with hyper-parameters drawn from log-uniform ranges, random
// compositions of 2 to 6 of them with + and x, and their Gram matrices on
// x = linspace(0, 1, L). Plain C++; gp_gram_torch.h builds the same matrices
// with LibTorch ops on a CUDA device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace crucible {

enum class KernelFamily {
  kPeriodic,           // exp(-2 sin^2(pi tau / period) / l^2)
  kRbf,                // exp(-tau^2 / (2 l^2))
  kRationalQuadratic,  // (1 + tau^2 / (2 alpha l^2))^-alpha
  kMatern,             // nu in {0.5, 1.5, 2.5}
  kWhiteNoise,         // variance on the diagonal
  kConstant,           // variance everywhere
  kDotProduct,         // sigma0^2 + x x' (a linear trend)
  kChangePoint,        // s(x) s(x') RBF_1 + (1 - s(x))(1 - s(x')) RBF_2, s a sigmoid
  kLocallyPeriodic,    // periodic x RBF
  kPolynomial,         // (x x' + c)^degree
  kArcCosine,          // order-1 arc-cosine on (bias, x)
  kSpectral,           // cos(2 pi tau / period) x RBF
};
constexpr int kKernelFamilies = 12;

// One kernel of a composition: variance x family(parameters). The meaning of
// p[0..3] depends on the family (see gp_kernel_bank.cpp).
struct KernelTerm {
  KernelFamily family = KernelFamily::kRbf;
  double variance = 1.0;
  double p[4] = {0, 0, 0, 0};
};

// terms[0] ops[0] terms[1] ops[1] ... folded left to right; ops are '+' or '*'.
struct KernelComposition {
  std::vector<KernelTerm> terms;
  std::vector<char> ops;

  std::string describe() const;
};

// The composition of kernel slot `index` for a seed; `attempt` > 0 redraws
// (after a composition that was not positive definite). Pure function.
KernelComposition draw_composition(uint64_t seed, uint32_t index, uint32_t attempt);

// The Gram matrix of a composition on x_k = k / (L - 1), k < L, written
// row-major into out[L * L] (float64). Rows in parallel (OpenMP).
void gram_matrix_cpu(const KernelComposition& composition, int64_t length, double* out);

}  // namespace crucible
