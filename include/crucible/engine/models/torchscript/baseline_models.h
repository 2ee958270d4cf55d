// Honest baseline forecasters as TorchScript archives that follow the model
// contract (docs/scoring.md section 2, with the lengths argument): naive, seasonal
// naive, mean, drift, a linear autoregression fitted on the fly, and a small
// transformer with fixed random weights. The demo's and the benchmarks'
// models; built from TorchScript source, so no Python is needed.
#pragma once

#include <string>
#include <vector>

namespace crucible {

// The baselines' names, in the order they are written.
std::vector<std::string> baseline_model_names();

// Writes DIR/<index>_<name>.pt for each baseline (index from 0, the uid
// `crucible eval` reads from the name). Throws std::runtime_error naming the
// file on failure.
std::vector<std::string> write_baseline_models(const std::string& directory);

// Writes DIR/<uid>_covariate_regression.pt: a baseline with the grouped
// contract (group_ids and future_inputs), which fits each row on its group's
// known covariates by least squares over its context and forecasts from
// their given future values (naive where its group has none). Returns the
// path; throws as write_baseline_models does.
std::string write_covariate_baseline_model(const std::string& directory, int64_t uid);

}  // namespace crucible
