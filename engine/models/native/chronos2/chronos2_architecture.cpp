// Chronos-2 behind the native architecture interface (torch-free half).
#include "engine/models/native/chronos2/chronos2_baselines.h"
#include "engine/models/native/chronos2/chronos2_config.h"

namespace crucible {
namespace {

// Chronos2Model's checkpoint holds exactly the tensors its config implies
// (no tied copies, no head): the interface's defaults ignore nothing and
// check nothing across tensors. Its baseline: chronos2_baselines.h.
class Chronos2Architecture final : public NativeArchitecture {
 public:
  const char* name() const override { return kChronos2Architecture; }

  std::shared_ptr<const NativeConfig> parse_config(
      const std::string& label, const std::string& json_text, const NativeConfigLimits& limits,
      std::vector<ConfigDefault>* defaults) const override {
    return std::make_shared<const Chronos2Config>(
        parse_chronos2_config(label, json_text, limits, defaults));
  }

  std::vector<std::string> write_baselines(const std::string& directory,
                                           int64_t first_uid) const override {
    return write_chronos2_baselines(directory, first_uid);
  }
};

}  // namespace

const NativeArchitecture& chronos2_architecture() {
  static const Chronos2Architecture architecture;
  return architecture;
}

}  // namespace crucible
