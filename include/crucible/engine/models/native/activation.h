// The activations of native architectures' feed-forward and residual
// blocks, as transformers' ACT2FN names them. Torch-free.
#pragma once

namespace crucible {

enum class Activation { kRelu, kGeluTanh /* "gelu_new" */, kGelu /* erf form */ };

// The ACT2FN name: "relu", "gelu_new" or "gelu".
const char* activation_name(Activation activation);

}  // namespace crucible
