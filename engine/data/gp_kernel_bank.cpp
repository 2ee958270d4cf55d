// Kernel families, their hyper-parameter ranges, random compositions, and the
// CPU Gram matrix.
//
// The Gram matrix is built row by row: stationary terms (functions of the lag
// tau = |i - j| / (L - 1)) are looked up in a table of their L lag values, the
// others are computed from per-point tables, and each term's row is folded
// into the accumulated row with + or x: simple loops the compiler vectorises.
#include "crucible/engine/data/gp_kernel_bank.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "crucible/engine/data/counter_rng.h"

namespace crucible {
namespace {

constexpr double kPi = 3.141592653589793;
constexpr uint32_t kCompositionStream = 1;

KernelTerm draw_term(CounterRng& rng) {
  KernelTerm t;
  t.family = static_cast<KernelFamily>(rng.integer(0, kKernelFamilies - 1));
  t.variance = rng.log_uniform(0.1, 2.0);
  switch (t.family) {
    case KernelFamily::kPeriodic:  // period, lengthscale
      t.p[0] = rng.log_uniform(0.02, 0.5);
      t.p[1] = rng.log_uniform(0.3, 3.0);
      break;
    case KernelFamily::kRbf:  // lengthscale
      t.p[0] = rng.log_uniform(0.01, 0.5);
      break;
    case KernelFamily::kRationalQuadratic:  // lengthscale, alpha
      t.p[0] = rng.log_uniform(0.01, 0.5);
      t.p[1] = rng.log_uniform(0.1, 10.0);
      break;
    case KernelFamily::kMatern: {  // lengthscale, nu
      t.p[0] = rng.log_uniform(0.01, 0.5);
      const double nus[3] = {0.5, 1.5, 2.5};
      t.p[1] = nus[rng.integer(0, 2)];
      break;
    }
    case KernelFamily::kWhiteNoise:
      t.variance = rng.log_uniform(1e-3, 0.1);
      break;
    case KernelFamily::kConstant:
      break;
    case KernelFamily::kDotProduct:  // sigma0
      t.p[0] = rng.log_uniform(0.1, 2.0);
      break;
    case KernelFamily::kChangePoint:  // location, width, lengthscale before, after
      t.p[0] = rng.uniform(0.2, 0.8);
      t.p[1] = rng.log_uniform(0.01, 0.1);
      t.p[2] = rng.log_uniform(0.01, 0.5);
      t.p[3] = rng.log_uniform(0.01, 0.5);
      break;
    case KernelFamily::kLocallyPeriodic:  // period, periodic lengthscale, RBF lengthscale
      t.p[0] = rng.log_uniform(0.02, 0.5);
      t.p[1] = rng.log_uniform(0.3, 3.0);
      t.p[2] = rng.log_uniform(0.1, 1.0);
      break;
    case KernelFamily::kPolynomial:  // offset, degree
      t.p[0] = rng.log_uniform(0.1, 1.0);
      t.p[1] = static_cast<double>(rng.integer(2, 3));
      break;
    case KernelFamily::kArcCosine:  // bias
      t.p[0] = rng.log_uniform(0.1, 1.0);
      break;
    case KernelFamily::kSpectral:  // period, lengthscale
      t.p[0] = rng.log_uniform(0.02, 0.5);
      t.p[1] = rng.log_uniform(0.05, 1.0);
      break;
  }
  return t;
}

const char* family_name(KernelFamily family) {
  static const char* const names[kKernelFamilies] = {
      "Periodic",   "RBF",         "RationalQuadratic", "Matern",     "WhiteNoise", "Constant",
      "DotProduct", "ChangePoint", "LocallyPeriodic",   "Polynomial", "ArcCosine",  "Spectral"};
  return names[static_cast<int>(family)];
}

std::string describe_term(const KernelTerm& t) {
  char text[160];
  std::snprintf(text, sizeof text, "%.3g*%s(%.3g, %.3g, %.3g, %.3g)", t.variance,
                family_name(t.family), t.p[0], t.p[1], t.p[2], t.p[3]);
  return text;
}

double rbf(double tau, double lengthscale) {
  return std::exp(-tau * tau / (2 * lengthscale * lengthscale));
}

double periodic(double tau, double period, double lengthscale) {
  const double s = std::sin(kPi * tau / period);
  return std::exp(-2 * s * s / (lengthscale * lengthscale));
}

double matern(double tau, double lengthscale, double nu) {
  const double r = tau / lengthscale;
  if (nu == 0.5) return std::exp(-r);
  if (nu == 1.5) return (1 + std::sqrt(3.0) * r) * std::exp(-std::sqrt(3.0) * r);
  return (1 + std::sqrt(5.0) * r + 5.0 / 3.0 * r * r) * std::exp(-std::sqrt(5.0) * r);
}

bool is_stationary(KernelFamily f) {
  return f != KernelFamily::kDotProduct && f != KernelFamily::kChangePoint &&
         f != KernelFamily::kPolynomial && f != KernelFamily::kArcCosine;
}

// A stationary family's value at lag tau, variance included.
double stationary_value(const KernelTerm& t, double tau) {
  double v = 0.0;
  switch (t.family) {
    case KernelFamily::kPeriodic:
      v = periodic(tau, t.p[0], t.p[1]);
      break;
    case KernelFamily::kRbf:
      v = rbf(tau, t.p[0]);
      break;
    case KernelFamily::kRationalQuadratic:
      v = std::pow(1 + tau * tau / (2 * t.p[1] * t.p[0] * t.p[0]), -t.p[1]);
      break;
    case KernelFamily::kMatern:
      v = matern(tau, t.p[0], t.p[1]);
      break;
    case KernelFamily::kWhiteNoise:
      v = tau == 0.0 ? 1.0 : 0.0;
      break;
    case KernelFamily::kConstant:
      v = 1.0;
      break;
    case KernelFamily::kLocallyPeriodic:
      v = periodic(tau, t.p[0], t.p[1]) * rbf(tau, t.p[2]);
      break;
    case KernelFamily::kSpectral:
      v = std::cos(2 * kPi * tau / t.p[0]) * rbf(tau, t.p[1]);
      break;
    default:
      break;
  }
  return t.variance * v;
}

// One term with the tables its rows need.
struct TermTables {
  const KernelTerm* term;
  std::vector<double> lags;    // stationary value; the change point's first RBF
  std::vector<double> lags2;   // the change point's second RBF
  std::vector<double> points;  // the change point's gate s(x); the arc-cosine norm
};

TermTables tables_for(const KernelTerm& t, const std::vector<double>& x) {
  const size_t n = x.size();
  TermTables tables{&t, std::vector<double>(n), {}, {}};
  if (is_stationary(t.family)) {
    for (size_t d = 0; d < n; ++d) tables.lags[d] = stationary_value(t, x[d]);
  } else if (t.family == KernelFamily::kChangePoint) {
    tables.lags2.resize(n);
    tables.points.resize(n);
    for (size_t d = 0; d < n; ++d) {
      tables.lags[d] = rbf(x[d], t.p[2]);
      tables.lags2[d] = rbf(x[d], t.p[3]);
      tables.points[d] = 1 / (1 + std::exp(-(x[d] - t.p[0]) / t.p[1]));
    }
  } else if (t.family == KernelFamily::kArcCosine) {
    tables.points.resize(n);
    for (size_t i = 0; i < n; ++i) tables.points[i] = std::sqrt(t.p[0] * t.p[0] + x[i] * x[i]);
  }
  return tables;
}

// Row i of a term's Gram matrix into row[0..n).
void term_row(const TermTables& tables, const std::vector<double>& x, size_t i, double* row) {
  const KernelTerm& t = *tables.term;
  const size_t n = x.size();
  const double xi = x[i];
  switch (t.family) {
    case KernelFamily::kDotProduct:
      for (size_t j = 0; j < n; ++j) row[j] = t.variance * (t.p[0] * t.p[0] + xi * x[j]);
      return;
    case KernelFamily::kPolynomial:
      for (size_t j = 0; j < n; ++j) {
        const double base = xi * x[j] + t.p[0];
        row[j] = t.variance * (t.p[1] == 2.0 ? base * base : base * base * base);
      }
      return;
    case KernelFamily::kChangePoint: {
      const double si = tables.points[i];
      for (size_t j = 0; j < n; ++j) {
        const size_t d = i > j ? i - j : j - i;
        const double sj = tables.points[j];
        row[j] = t.variance * (si * sj * tables.lags[d] + (1 - si) * (1 - sj) * tables.lags2[d]);
      }
      return;
    }
    case KernelFamily::kArcCosine: {
      const double b2 = t.p[0] * t.p[0];
      for (size_t j = 0; j < n; ++j) {
        const double norms = tables.points[i] * tables.points[j];
        const double cosine = std::clamp((b2 + xi * x[j]) / norms, -1.0, 1.0);
        const double j1 =
            std::sqrt(std::max(0.0, 1 - cosine * cosine)) + (kPi - std::acos(cosine)) * cosine;
        row[j] = t.variance * norms * j1 / kPi;
      }
      return;
    }
    default:  // stationary: the lag table read outwards from the diagonal
      for (size_t j = 0; j < i; ++j) row[j] = tables.lags[i - j];
      for (size_t j = i; j < n; ++j) row[j] = tables.lags[j - i];
      return;
  }
}

}  // namespace

std::string KernelComposition::describe() const {
  std::string text = describe_term(terms.front());
  for (size_t i = 1; i < terms.size(); ++i) {
    text = "(" + text + " " + ops[i - 1] + " " + describe_term(terms[i]) + ")";
  }
  return text;
}

KernelComposition draw_composition(uint64_t seed, uint32_t index, uint32_t attempt) {
  CounterRng rng(seed, kCompositionStream, index, attempt);
  KernelComposition composition;
  const int64_t count = rng.integer(2, 6);
  for (int64_t i = 0; i < count; ++i) {
    composition.terms.push_back(draw_term(rng));
    if (i > 0) composition.ops.push_back(rng.uniform() < 0.5 ? '+' : '*');
  }
  return composition;
}

void gram_matrix_cpu(const KernelComposition& composition, int64_t length, double* out) {
  const size_t n = static_cast<size_t>(length);
  std::vector<double> x(n);  // the points, and the lags: x[k] = k / (L - 1)
  for (size_t k = 0; k < n; ++k) x[k] = static_cast<double>(k) / static_cast<double>(n - 1);
  std::vector<TermTables> terms;
  for (const KernelTerm& t : composition.terms) terms.push_back(tables_for(t, x));

#pragma omp parallel
  {
    std::vector<double> row(n);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < length; ++i) {
      double* acc = out + static_cast<size_t>(i) * n;
      term_row(terms[0], x, static_cast<size_t>(i), acc);
      for (size_t k = 1; k < terms.size(); ++k) {
        term_row(terms[k], x, static_cast<size_t>(i), row.data());
        if (composition.ops[k - 1] == '+') {
          for (size_t j = 0; j < n; ++j) acc[j] += row[j];
        } else {
          for (size_t j = 0; j < n; ++j) acc[j] *= row[j];
        }
      }
    }
  }
}

}  // namespace crucible
