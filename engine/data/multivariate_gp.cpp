// Groups of synthetic GP rows (multivariate_gp.h; the formulas are those of
// docs/scoring.md section 1). Every scale is taken from a group's context
// only, so nothing in a row's context reveals its target beyond what the GP
// priors do.
#include "crucible/engine/data/multivariate_gp.h"

#include <cmath>
#include <string>

#include "crucible/engine/data/counter_rng.h"

namespace crucible {
namespace {

constexpr uint32_t kMixingStream = 5;  // streams 1 to 4: compositions, normals, splits, windows

using Matrix = std::vector<std::vector<double>>;

double norm(const std::vector<double>& v) {
  double sum = 0.0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
}

double cosine(const std::vector<double>& u, const std::vector<double>& v) {
  double dot = 0.0;
  for (size_t i = 0; i < u.size(); ++i) dot += u[i] * v[i];
  return dot / (norm(u) * norm(v));
}

// Latent `row` divided by its root mean square over the first `split` points.
std::vector<double> scaled_latent(const float* row, int64_t length, int64_t split) {
  std::vector<double> values(row, row + length);
  double sum = 0.0;
  for (int64_t i = 0; i < split; ++i) sum += values[i] * values[i];
  const double rms = std::sqrt(sum / static_cast<double>(split));
  if (rms > 0.0) {
    for (double& v : values) v /= rms;
  }
  return values;
}

// sum_k weights[k] * series[k] / |weights|, over all points.
std::vector<double> unit_mixture(const std::vector<double>& weights, const Matrix& series,
                                 int64_t length) {
  std::vector<double> mixed(static_cast<size_t>(length), 0.0);
  const double scale = 1.0 / norm(weights);
  for (size_t k = 0; k < weights.size(); ++k) {
    for (int64_t i = 0; i < length; ++i) mixed[i] += weights[k] * scale * series[k][i];
  }
  return mixed;
}

struct GroupWeights {
  Matrix lmc;    // a [T][T], each in [w, 1]
  Matrix known;  // b [T][K], |b| in [w, 1], one sign per known covariate
};

GroupWeights draw_weights(const SyntheticGpOptions& o, int64_t group) {
  CounterRng rng(o.seed, kMixingStream, static_cast<uint32_t>(group));
  const auto t_count = static_cast<size_t>(o.group_targets);
  const auto k_count = static_cast<size_t>(o.known_covariates);
  GroupWeights w{Matrix(t_count, std::vector<double>(t_count)),
                 Matrix(t_count, std::vector<double>(k_count))};
  for (auto& row : w.lmc) {
    for (double& a : row) a = rng.uniform(kMinMixingWeight, 1.0);
  }
  std::vector<double> signs(k_count);
  for (double& sign : signs) sign = rng.uniform() < 0.5 ? -1.0 : 1.0;
  for (auto& row : w.known) {
    for (size_t k = 0; k < k_count; ++k) row[k] = signs[k] * rng.uniform(kMinMixingWeight, 1.0);
  }
  return w;
}

}  // namespace

TaskData assemble_gp_groups(const SyntheticGpOptions& o, const float* latents,
                            const std::vector<KernelComposition>& compositions) {
  const int64_t rows = gp_rows_per_group(o), length = o.length;
  const int64_t t_count = o.group_targets, p_count = o.past_covariates;
  const double share = o.known_covariates > 0 ? o.known_share : 0.0;
  const char* const role_names[] = {"target", "past covariate", "known covariate"};
  std::vector<std::vector<float>> contexts, targets;
  std::vector<std::string> descriptions;
  std::vector<int64_t> group_ids, roles;

  for (int64_t g = 0; g < o.num_series; ++g) {
    const int64_t split = gp_split_point(o, g);
    Matrix scaled(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      scaled[r] = scaled_latent(latents + (g * rows + r) * length, length, split);
    }
    const Matrix lmc_latents(scaled.begin(), scaled.begin() + t_count);
    const Matrix known(scaled.begin() + t_count + p_count, scaled.end());
    const GroupWeights w = draw_weights(o, g);

    Matrix series(static_cast<size_t>(rows));
    std::vector<double> target_sum(static_cast<size_t>(length), 0.0);
    double target_sum_variance = 0.0;  // sum over t, t' of the targets' correlations
    for (int64_t t = 0; t < t_count; ++t) {
      series[t] = unit_mixture(w.lmc[t], lmc_latents, length);
      if (share > 0.0) {
        const std::vector<double> driven = unit_mixture(w.known[t], known, length);
        for (int64_t i = 0; i < length; ++i) {
          series[t][i] = std::sqrt(share) * driven[i] + std::sqrt(1.0 - share) * series[t][i];
        }
      }
      for (int64_t i = 0; i < length; ++i) target_sum[i] += series[t][i];
      for (int64_t u = 0; u < t_count; ++u) {
        target_sum_variance += (1.0 - share) * cosine(w.lmc[t], w.lmc[u]) +
                               (share > 0.0 ? share * cosine(w.known[t], w.known[u]) : 0.0);
      }
    }
    const double target_part = std::sqrt(o.past_share / target_sum_variance);
    for (int64_t r = t_count; r < t_count + p_count; ++r) {
      series[r].resize(static_cast<size_t>(length));
      for (int64_t i = 0; i < length; ++i) {
        series[r][i] = target_part * target_sum[i] + std::sqrt(1.0 - o.past_share) * scaled[r][i];
      }
    }
    for (int64_t r = t_count + p_count; r < rows; ++r) series[r] = scaled[r];

    for (int64_t r = 0; r < rows; ++r) {
      const int role = r < t_count ? 0 : r < t_count + p_count ? 1 : 2;
      const int64_t index = role == 0 ? r : role == 1 ? r - t_count : r - t_count - p_count;
      const KernelComposition& kernel =
          compositions[static_cast<size_t>((g * rows + r) / o.samples_per_kernel)];
      contexts.emplace_back(series[r].begin(), series[r].begin() + split);
      targets.emplace_back(series[r].begin() + split, series[r].end());
      descriptions.push_back(std::string(role_names[role]) + " " + std::to_string(index) +
                             " of group " + std::to_string(g) + ": " + kernel.describe());
      group_ids.push_back(g);
      roles.push_back(role);
    }
  }
  TaskData task = pad_task(contexts, targets, std::move(descriptions));
  set_task_groups(task, std::move(group_ids), std::move(roles));
  return task;
}

}  // namespace crucible
