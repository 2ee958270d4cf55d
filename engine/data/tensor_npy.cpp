#include "crucible/engine/data/tensor_npy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <stdexcept>

namespace crucible {
namespace {

at::ScalarType scalar_type_of(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kFloat32:
      return at::kFloat;
    case NpyDtype::kFloat64:
      return at::kDouble;
    case NpyDtype::kInt32:
      return at::kInt;
    case NpyDtype::kInt64:
      return at::kLong;
  }
  throw std::invalid_argument("unknown npy dtype");
}

}  // namespace

at::Tensor tensor_from_npy(const NpyArray& array) {
  at::Tensor tensor =
      at::empty(array.shape, at::TensorOptions().dtype(scalar_type_of(array.dtype)));
  if (!array.data.empty()) std::memcpy(tensor.data_ptr(), array.data.data(), array.data.size());
  return tensor;
}

NpyArray npy_from_tensor(const at::Tensor& tensor) {
  NpyArray array;
  switch (tensor.scalar_type()) {
    case at::kFloat:
      array.dtype = NpyDtype::kFloat32;
      break;
    case at::kDouble:
      array.dtype = NpyDtype::kFloat64;
      break;
    case at::kInt:
      array.dtype = NpyDtype::kInt32;
      break;
    case at::kLong:
      array.dtype = NpyDtype::kInt64;
      break;
    default:
      throw std::invalid_argument("tensor dtype has no .npy equivalent here");
  }
  const at::Tensor cpu = tensor.cpu().contiguous();
  array.shape = cpu.sizes().vec();
  array.data.resize(static_cast<size_t>(cpu.numel()) * npy_item_size(array.dtype));
  if (!array.data.empty()) std::memcpy(array.data.data(), cpu.data_ptr(), array.data.size());
  return array;
}

}  // namespace crucible
