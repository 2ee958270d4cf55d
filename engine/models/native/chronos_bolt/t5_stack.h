// The T5 encoder-decoder blocks of Chronos-Bolt, as a stacked forward: every
// weight carries a leading model axis G, every activation is [G, S, T, ...]
// (G models x S series x T positions). Matrix products and GELU activations
// run model by model, with each model's own shapes, so a model's values are
// the same bits whatever shares its stack (see per_model_matmul); the other
// operations run over the whole stack. A single model is the G = 1 case.
// Each function matches one piece of transformers' (4.48) modeling_t5.py in
// eval mode (dropout off, float32), which the comments name.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>

#include "crucible/engine/models/native/stacked_ops.h"
#include "engine/models/native/chronos_bolt/chronos_bolt_config.h"

namespace crucible {

// T5Attention._relative_position_bucket of (key - query) for every pair,
// int64 [query_length, key_length] on the CPU, computed with the same float32
// tensor operations as the reference so the bucket edges agree.
at::Tensor t5_relative_position_buckets(int64_t query_length, int64_t key_length,
                                        bool bidirectional, int64_t num_buckets,
                                        int64_t max_distance);

// The additive mask T5 applies before the softmax: (1 - mask) * float32 min,
// mask [G, S, T] (1 = attend) -> [G, S, 1, 1, T].
at::Tensor additive_attention_mask(const at::Tensor& mask);

// T5Stack as the encoder: embeds [G, S, T, d], mask [G, S, T] (1 = observed)
// -> the final-layer-normed hidden states [G, S, T, d].
at::Tensor t5_encoder(const StackedWeights& weights, const ChronosBoltConfig& config,
                      const at::Tensor& embeds, const at::Tensor& mask);

// T5Stack as the decoder over the one start token (decoder_start_token_id),
// attending to encoder_states [G, S, T, d] under mask [G, S, T] -> [G, S, 1, d].
at::Tensor t5_decoder_start_step(const StackedWeights& weights, const ChronosBoltConfig& config,
                                 const at::Tensor& encoder_states, const at::Tensor& mask);

}  // namespace crucible
