// Chronos-Bolt behind the native architecture interface (torch-free half).
#include <cstring>

#include "engine/models/native/chronos_bolt/chronos_bolt_baselines.h"
#include "engine/models/native/chronos_bolt/chronos_bolt_config.h"

namespace crucible {
namespace {

class ChronosBoltArchitecture final : public NativeArchitecture {
 public:
  const char* name() const override { return kChronosBoltArchitecture; }

  std::shared_ptr<const NativeConfig> parse_config(
      const std::string& label, const std::string& json_text, const NativeConfigLimits& limits,
      std::vector<ConfigDefault>* defaults) const override {
    return std::make_shared<const ChronosBoltConfig>(
        parse_chronos_bolt_config(label, json_text, limits, defaults));
  }

  // The tied embedding copies (shaped as shared.weight), which the reference
  // loads into shared.weight, and lm_head (any shape), which it never reads.
  std::map<std::string, std::vector<int64_t>> ignorable_tensors(
      const NativeConfig& config) const override {
    const std::vector<int64_t> shared = config.tensor_shapes().at("shared.weight");
    return {{"encoder.embed_tokens.weight", shared},
            {"decoder.embed_tokens.weight", shared},
            {"lm_head.weight", {}}};
  }

  // A tied embedding copy present must equal shared.weight.
  std::string check_tensor_values(const SafetensorsShards& weights) const override {
    const std::vector<float> shared = weights.read_float32("shared.weight");
    for (const char* copy : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}) {
      if (!weights.contains(copy)) continue;
      const std::vector<float> values = weights.read_float32(copy);
      if (std::memcmp(values.data(), shared.data(), shared.size() * sizeof(float)) != 0) {
        return weights.file_of(copy) + ": tensor '" + copy + "' differs from shared.weight";
      }
    }
    return "";
  }

  // Two small models of one config (chronos_bolt_baselines.h).
  std::vector<std::string> write_baselines(const std::string& directory,
                                           int64_t first_uid) const override {
    return write_chronos_bolt_baselines(directory, first_uid);
  }
};

}  // namespace

const NativeArchitecture& chronos_bolt_architecture() {
  static const ChronosBoltArchitecture architecture;
  return architecture;
}

}  // namespace crucible
