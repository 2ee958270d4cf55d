// Checks a candidate model file before anything runs it (issue: candidate
// models, "Loading"): file size, TorchScript archive, parameter count, the
// entry method and its signature (docs/scoring.md section 2), and every op of every
// method's graph (inlined, all nested blocks) against an allowlist of pure
// tensor math and control flow. Anything that touches files, processes, the
// network, raw storage or custom classes is refused, with the op's name. A
// refusal lists every problem found, not only the first.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace crucible {

struct ModelLimits {
  int64_t max_file_bytes = int64_t{50} << 20;
  int64_t max_parameters = 10'000'000;  // parameters and buffers, all submodules
};

struct ModelInspection {
  bool accepted = false;
  std::string reason;  // one line when refused: every problem, separated by "; "
  int64_t file_bytes = 0;
  int64_t parameters = 0;
  std::vector<std::string> methods;          // "module.method(schema)" of every method
  std::map<std::string, int64_t> op_counts;  // qualified op name -> nodes
  std::vector<std::string> refused_ops;      // ops not on the allowlist
  std::string entry_method;                  // "forecast", or "forward" as the fallback
  bool takes_lengths = false;                // the entry method has the 4th (lengths) argument
  bool takes_groups = false;                 // ... and the 5th and 6th (group_ids, future_inputs)
};

// Never throws for a bad file: a missing, oversized, corrupt, non-TorchScript
// or disallowed model comes back with accepted = false and the reason.
ModelInspection inspect_model(const std::string& path, const ModelLimits& limits);

// inspect_model with the loading capped: while the archive is read, the
// process may map at most 1 GiB + 4 x the file's size more
// (AddressSpaceHeadroom). LibTorch's unpickler sizes allocations by fields of
// the archive, so a crafted file can ask for tens of gigabytes; under the cap
// that ends in a refusal ("... std::bad_alloc") instead of in the host's
// memory. The cap is process-wide: call this only in a process where no other
// thread allocates meanwhile (a worker between requests).
ModelInspection inspect_untrusted_model(const std::string& path, const ModelLimits& limits);

// True when a qualified op name ("aten::add") is on the allowlist.
bool is_allowed_op(const std::string& qualified_name);

// Every op on the allowlist, qualified ("aten::add"), sorted and distinct.
std::vector<std::string> allowed_ops();

}  // namespace crucible
