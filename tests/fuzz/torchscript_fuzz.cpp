// Feeds arbitrary bytes to inspect_untrusted_model, as a worker process runs it,
// as a candidate model file (written to a scratch file, since the inspector
// reads a path): torch::jit::load opens it as a TorchScript archive under the
// address-space cap, then the inspector walks the modules' graphs. Expected:
// it never throws; a refusal has a reason; an acceptance has none and names
// its entry method. Any exception, a broken property, a crash, or memory use
// past libFuzzer's -rss_limit_mb is a finding (tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <fstream>

#include "crucible/common/files.h"
#include "crucible/engine/models/torchscript/model_inspector.h"
#include "fuzz_support.h"

using crucible::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const crucible::TemporaryFolder folder("torchscript_fuzz");
  const std::string path = folder.path() + "/model.pt";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  const crucible::ModelInspection inspection = crucible::inspect_untrusted_model(path, {});
  if (inspection.accepted) {
    require(inspection.reason.empty(), "an accepted model has a reason");
    require(inspection.entry_method == "forecast" || inspection.entry_method == "forward",
            "an accepted model has no entry method");
  } else {
    require(!inspection.reason.empty(), "a refused model has no reason");
  }
  return 0;
}
