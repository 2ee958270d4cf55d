#include "crucible/engine/models/torchscript/model_inspector.h"

#include <sys/stat.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>

#include <set>
#include <sstream>

#include "crucible/common/address_space_limit.h"
#include "crucible/common/model_files.h"

namespace crucible {
namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Counts every node of a block and its nested blocks (If / Loop bodies).
void count_ops(torch::jit::Block* block, std::map<std::string, int64_t>& counts) {
  for (torch::jit::Node* node : block->nodes()) {
    ++counts[node->kind().toQualString()];
    for (torch::jit::Block* nested : node->blocks()) count_ops(nested, counts);
  }
}

bool is_list_of_floats(const c10::TypePtr& type) {
  const auto list = type->cast<c10::ListType>();
  return list && list->getElementType()->kind() == c10::TypeKind::FloatType;
}

bool is_tensor(const c10::TypePtr& type) { return type->kind() == c10::TypeKind::TensorType; }

// A Tensor or Optional[Tensor] parameter.
bool is_tensor_parameter(const c10::TypePtr& type) {
  const auto optional = type->cast<c10::OptionalType>();
  return is_tensor(type) || (optional && is_tensor(optional->getElementType()));
}

// (inputs: Tensor, prediction_length: int, quantiles: List[float]
//  [, lengths[, group_ids, future_inputs]]) -> Tensor, after self; each
// optional parameter a Tensor or Optional[Tensor].
std::string check_signature(const c10::FunctionSchema& schema, ModelInspection& result) {
  const auto& args = schema.arguments();
  const size_t n = args.size();  // self included
  bool ok = (n == 4 || n == 5 || n == 7) && is_tensor(args[1].type()) &&
            args[2].type()->kind() == c10::TypeKind::IntType && is_list_of_floats(args[3].type());
  for (size_t i = 4; ok && i < n; ++i) ok = is_tensor_parameter(args[i].type());
  ok = ok && schema.returns().size() == 1 && is_tensor(schema.returns()[0].type());
  result.takes_lengths = ok && n >= 5;
  result.takes_groups = ok && n == 7;
  if (ok) return "";
  std::ostringstream text;
  text << "method " << schema << " does not match forecast(Tensor inputs, int prediction_length, "
       << "float[] quantiles[, Tensor lengths[, Tensor group_ids, Tensor future_inputs]]) -> "
          "Tensor";
  return text.str();
}

// One problem per custom-class (torch.classes) value held as a module attribute.
void find_custom_classes(const torch::jit::Module& module, std::vector<std::string>& problems) {
  for (const auto& attribute : module.named_attributes(/*recurse=*/true)) {
    if (attribute.value.isCustomClass()) {
      problems.push_back("attribute " + attribute.name +
                         " is a custom class, which is not allowed");
    }
  }
}

ModelInspection refused(ModelInspection inspection, const std::string& reason) {
  inspection.accepted = false;
  inspection.reason = reason;
  return inspection;
}

}  // namespace

ModelInspection inspect_model(const std::string& path, const ModelLimits& limits) {
  ModelInspection result;
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return refused(result, "cannot open the model file");
  }
  result.file_bytes = info.st_size;
  const std::string too_large = repository_size_reason(result.file_bytes, limits.max_file_bytes);
  if (!too_large.empty()) return refused(result, too_large);

  torch::jit::Module module;
  try {
    module = torch::jit::load(path, c10::Device(c10::kCPU));
  } catch (const std::exception& e) {
    return refused(result, "not a loadable TorchScript archive: " + first_line(e.what()));
  }

  for (const at::Tensor& p : module.parameters(/*recurse=*/true)) result.parameters += p.numel();
  for (const at::Tensor& b : module.buffers(/*recurse=*/true)) result.parameters += b.numel();

  for (const auto& submodule : module.named_modules()) {
    for (const torch::jit::Method& method : submodule.value.get_methods()) {
      std::ostringstream name;
      name << (submodule.name.empty() ? "" : submodule.name + ".") << method.function().getSchema();
      result.methods.push_back(name.str());
      std::shared_ptr<torch::jit::Graph> graph = method.graph()->copy();
      torch::jit::Inline(*graph);
      count_ops(graph->block(), result.op_counts);
    }
  }
  // Every problem is reported, not only the first.
  std::vector<std::string> problems;
  for (const auto& [op, count] : result.op_counts) {
    if (!is_allowed_op(op)) result.refused_ops.push_back(op);
  }
  if (!result.refused_ops.empty()) {
    std::string ops;
    for (const std::string& op : result.refused_ops) ops += (ops.empty() ? "" : ", ") + op;
    problems.push_back("uses ops that are not allowed: " + ops);
  }
  find_custom_classes(module, problems);
  if (result.parameters > limits.max_parameters) {
    problems.push_back(std::to_string(result.parameters) + " parameters, over the limit of " +
                       std::to_string(limits.max_parameters));
  }
  const auto entry = module.find_method("forecast") ? module.find_method("forecast")
                                                    : module.find_method("forward");
  if (!entry) {
    problems.push_back("has neither a forecast nor a forward method");
  } else {
    result.entry_method = entry->name();
    const std::string bad = check_signature(entry->function().getSchema(), result);
    if (!bad.empty()) problems.push_back(bad);
  }
  for (const std::string& problem : problems) {
    result.reason += (result.reason.empty() ? "" : "; ") + problem;
  }
  result.accepted = problems.empty();
  return result;
}

ModelInspection inspect_untrusted_model(const std::string& path, const ModelLimits& limits) {
  constexpr int64_t kLoadingHeadroom = int64_t{1} << 30;
  struct stat info;
  const int64_t file_bytes = ::stat(path.c_str(), &info) == 0 ? info.st_size : 0;
  ModelInspection inspection;
  {
    const AddressSpaceHeadroom cap(kLoadingHeadroom + 4 * file_bytes);
    inspection = inspect_model(path, limits);
  }
  const std::string out_of_memory = "std::bad_alloc";
  const size_t at = inspection.reason.find(out_of_memory);
  if (!inspection.accepted && at != std::string::npos) {
    inspection.reason.replace(at, out_of_memory.size(),
                              "loading it asked for more memory than 1 GiB + 4 x its size");
  }
  return inspection;
}

}  // namespace crucible
