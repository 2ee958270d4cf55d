// Character and name checks for text a miner controls that ends up in a path
// (repository ids, commits, hotkeys, content hashes): nothing that passes can
// leave the folder it is joined to.
#pragma once

#include <string>

namespace crucible {

// [A-Za-z0-9], ASCII only (no locale).
bool is_ascii_alphanumeric(char c);

// One folder name a miner may choose: non-empty, not starting with '.', only
// [A-Za-z0-9._-]. Rules out "", ".", "..", hidden names and any '/'.
bool is_safe_path_segment(const std::string& segment);

}  // namespace crucible
