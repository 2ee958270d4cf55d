// The Chronos-2 baseline model: a small Chronos2Model folder (config.json +
// model.safetensors) written from C++, for `crucible models make-baselines`,
// the demo, the tests and the benchmarks. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/models/native/chronos2/chronos2_config.h"

namespace crucible {

// The baseline's config: d_model 64, 2 layers, 4 heads, context 512, patch
// 16, 4 output patches, the 21 quantile levels of the released models.
Chronos2Config baseline_chronos2_config();

// config.json text for `config`, as Chronos2Pipeline.from_pretrained reads it.
std::string chronos2_config_json(const Chronos2Config& config);

// Writes DIR/<first_uid>_chronos2_gaussian/: every weight 0 (layer norms 1)
// except the output block's biases, set to the normal quantile z_q of each
// level, so in its normalised (arcsinh) scale every row's forecast is z_q:
// loc + scale * sinh(z_q). Returns the folder; throws std::runtime_error
// naming the path on failure.
std::vector<std::string> write_chronos2_baselines(const std::string& directory, int64_t first_uid);

}  // namespace crucible
