// The torch-free half of the native architecture registry, and the
// interface's shared defaults.
#include <map>
#include <utility>

#include "crucible/engine/models/native/activation.h"
#include "crucible/engine/models/native/native_architecture.h"
#include "engine/models/native/native_architecture_list.h"

namespace crucible {

#define CRUCIBLE_DECLARE_ARCHITECTURE(arch) const NativeArchitecture& arch##_architecture();
CRUCIBLE_NATIVE_ARCHITECTURES(CRUCIBLE_DECLARE_ARCHITECTURE)
#undef CRUCIBLE_DECLARE_ARCHITECTURE

namespace {

const std::vector<const NativeArchitecture*>& registered() {
#define CRUCIBLE_LIST_ARCHITECTURE(arch) &arch##_architecture(),
  static const std::vector<const NativeArchitecture*> all = {
      CRUCIBLE_NATIVE_ARCHITECTURES(CRUCIBLE_LIST_ARCHITECTURE)};
#undef CRUCIBLE_LIST_ARCHITECTURE
  return all;
}

}  // namespace

std::string ConfigDefault::description() const {
  return key + (null ? " is null: " : " missing: ") + value + " (" + origin + ")";
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::kRelu:
      return "relu";
    case Activation::kGeluTanh:
      return "gelu_new";
    case Activation::kGelu:
      return "gelu";
  }
  return "relu";
}

int64_t NativeConfig::parameter_count() const {
  int64_t total = 0;
  for (const auto& [name, shape] : tensor_shapes()) {
    int64_t count = 1;
    for (int64_t size : shape) count *= size;
    total += count;
  }
  return total;
}

std::map<std::string, std::vector<int64_t>> NativeArchitecture::ignorable_tensors(
    const NativeConfig&) const {
  return {};
}

std::string NativeArchitecture::check_tensor_values(const SafetensorsShards&) const { return ""; }

std::vector<std::string> NativeArchitecture::write_baselines(const std::string&, int64_t) const {
  return {};
}

std::vector<std::string> write_native_baseline_models(const std::string& directory,
                                                      int64_t first_uid) {
  std::vector<std::string> paths;
  for (const NativeArchitecture* architecture : registered()) {
    for (std::string& path :
         architecture->write_baselines(directory, first_uid + static_cast<int64_t>(paths.size()))) {
      paths.push_back(std::move(path));
    }
  }
  return paths;
}

const NativeArchitecture* find_native_architecture(const std::string& name) {
  for (const NativeArchitecture* architecture : registered()) {
    if (name == architecture->name()) return architecture;
  }
  return nullptr;
}

const std::vector<std::string>& native_architectures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const NativeArchitecture* architecture : registered()) all.push_back(architecture->name());
    return all;
  }();
  return names;
}

}  // namespace crucible
