// Native baseline models: Chronos-Bolt folders (config.json +
// model.safetensors) written from C++, for the demo, the tests and the
// benchmarks. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crucible/engine/models/native/native_baseline_files.h"
#include "engine/models/native/chronos_bolt/chronos_bolt_config.h"

namespace crucible {

// The config the baselines share: a small Chronos-Bolt (d_model 64, 2 + 2
// layers, context 512, prediction 64, patch 16, [REG], levels 0.1 ... 0.9).
ChronosBoltConfig baseline_chronos_bolt_config();

// config.json text for `config` (architectures, chronos_pipeline_class, the
// T5 fields and chronos_config): what BaseChronosPipeline.from_pretrained
// needs to load the folder as a ChronosBoltPipeline.
std::string chronos_bolt_config_json(const ChronosBoltConfig& config);

// Writes DIR/<first_uid>_bolt_gaussian/ and DIR/<first_uid + 1>_bolt_random/:
// - gaussian: every weight 0 except the output block's biases, set to the
//   normal quantile z_q of each level, so it forecasts the context's mean +
//   z_q * its standard deviation (over the last context_length points);
// - random: the same biases plus seeded random weights (another forecaster
//   of the same config, so the two stack into one group).
// Returns the folders. Throws std::runtime_error naming the path on failure.
std::vector<std::string> write_chronos_bolt_baselines(const std::string& directory,
                                                      int64_t first_uid);

}  // namespace crucible
