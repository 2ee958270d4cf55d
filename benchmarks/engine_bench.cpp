// Micro benchmarks of the data-sized steps of a round: the per-series loss
// (U=256, S=256, H=512, Q=9), the scoring (U=256, S=1000, B=2000) and the
// synthetic GP data (S=1000 and 100, L=1024), and the stacked Chronos-Bolt
// forecast of G models (S=100, L=1024, FLOP/s counted), on the CPU and, when
// a device is present, on CUDA. Compare with benchmarks/python_reference.py
// and benchmarks/native_benchmark.sh (see BENCHMARKS.md for the commands).
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <numeric>

#include "crucible/engine/chronos_bolt.h"
#include "crucible/engine/device.h"
#include "crucible/engine/model_scoring.h"
#include "crucible/engine/quantile_levels.h"
#include "crucible/engine/series_losses.h"
#include "crucible/engine/synthetic_gp.h"
#include "crucible/engine/synthetic_gp_torch.h"

namespace crucible {
namespace {

struct LossData {
  at::Tensor targets, forecasts, lengths;
};

LossData make_loss_data(int64_t u, int64_t s, int64_t h, int64_t q, const c10::Device& device) {
  at::manual_seed(1);
  LossData d;
  d.targets = at::randn({s, h}).to(device);
  d.forecasts = std::get<0>(at::sort(at::randn({u, s, h, q}), -1)).to(device);
  d.lengths = at::randint(h / 2, h + 1, {s}, at::kLong).to(device);
  return d;
}

void run_loss(benchmark::State& state, const c10::Device& device) {
  const int64_t u = state.range(0), s = state.range(1), h = state.range(2), q = state.range(3);
  const LossData d = make_loss_data(u, s, h, q, device);
  for (auto _ : state) {
    at::Tensor out = series_losses(LossMetric::kCrps, d.targets, d.forecasts, d.lengths, {});
    benchmark::DoNotOptimize(out.cpu().data_ptr<double>());
  }
  state.counters["series/s"] =
      benchmark::Counter(static_cast<double>(u * s), benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(state.iterations() * d.forecasts.numel() * 4);
}

void run_scoring(benchmark::State& state, const c10::Device& device) {
  const int64_t u = state.range(0), s = state.range(1);
  at::manual_seed(2);
  const at::Tensor losses = at::rand({u, s}, at::kDouble).to(device);
  std::vector<int64_t> uids(static_cast<size_t>(u));
  std::iota(uids.begin(), uids.end(), int64_t{0});
  ScoringOptions options;
  options.seed = 42;
  options.bootstrap_samples = state.range(2);
  for (auto _ : state) benchmark::DoNotOptimize(score_models(losses, uids, options));
  state.counters["draws/s"] = benchmark::Counter(static_cast<double>(u * s * state.range(2)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void run_synthetic_gp(benchmark::State& state, const c10::Device& device) {
  SyntheticGpOptions options;
  options.seed = 7;
  options.num_series = state.range(0);
  options.length = state.range(1);
  for (auto _ : state) benchmark::DoNotOptimize(generate_synthetic_gp(options, device));
  state.counters["series/s"] = benchmark::Counter(static_cast<double>(options.num_series),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

// G random models shaped like chronos-bolt-tiny at d_model (d_ff 4 d_model,
// d_kv 64, 4 + 4 layers, context 2048, prediction 64, patch 16, [REG]).
ChronosBoltStack random_stack(int64_t models, int64_t d_model, const c10::Device& device) {
  ChronosBoltStack stack;
  ChronosBoltConfig& c = stack.config;
  c.d_model = d_model;
  c.d_ff = 4 * d_model;
  c.d_kv = 64;
  c.num_heads = d_model / 64;
  c.num_layers = c.num_decoder_layers = 4;
  c.context_length = 2048;
  c.prediction_length = 64;
  c.input_patch_size = c.input_patch_stride = 16;
  c.quantiles = default_quantile_levels();
  c.use_reg_token = true;
  stack.models = models;
  at::manual_seed(3);
  for (const auto& [name, shape] : chronos_bolt_tensor_shapes(c)) {
    std::vector<int64_t> stacked = {models};
    stacked.insert(stacked.end(), shape.begin(), shape.end());
    const bool norm = name.find("layer_norm") != std::string::npos;
    stack.weights[name] = (norm ? at::ones(stacked) : at::randn(stacked) * 0.05).to(device);
  }
  return stack;
}

void run_chronos_bolt(benchmark::State& state, const c10::Device& device) {
  const ChronosBoltStack stack = random_stack(state.range(0), state.range(1), device);
  SyntheticGpOptions gp;
  gp.seed = 1;
  gp.num_series = 100;
  gp.length = 1024;
  TaskData task = generate_synthetic_gp_cpu(gp);
  const at::Tensor inputs =
      at::from_blob(task.inputs.data(), {task.num_series, task.input_width}, at::kFloat);
  const at::Tensor lengths = at::tensor(task.input_lengths, at::kLong);
  QuantileForecastRequest request;
  request.horizon = task.target_width;
  request.levels = default_quantile_levels();
  request.needed_steps = task.target_lengths;
  ForecastWork work;
  request.work = &work;
  for (auto _ : state) {
    work = ForecastWork{};
    const at::Tensor forecasts = chronos_bolt_predict_quantiles(stack, inputs, lengths, request);
    benchmark::DoNotOptimize(forecasts.sum().item<float>());
  }
  state.counters["models/s"] = benchmark::Counter(static_cast<double>(stack.models),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["FLOP/s"] = benchmark::Counter(chronos_bolt_flops(stack.config, work),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ChronosBoltCpu(benchmark::State& state) { run_chronos_bolt(state, c10::Device(c10::kCPU)); }
void BM_ChronosBoltCuda(benchmark::State& state) {
  if (!cuda_usable()) return state.SkipWithError("no CUDA device");
  run_chronos_bolt(state, c10::Device(c10::kCUDA, 0));
}

void BM_SeriesLossCpu(benchmark::State& state) { run_loss(state, c10::Device(c10::kCPU)); }
void BM_SeriesLossCuda(benchmark::State& state) {
  if (!cuda_usable()) return state.SkipWithError("no CUDA device");
  run_loss(state, c10::Device(c10::kCUDA, 0));
}
void BM_ScoringCpu(benchmark::State& state) { run_scoring(state, c10::Device(c10::kCPU)); }
void BM_ScoringCuda(benchmark::State& state) {
  if (!cuda_usable()) return state.SkipWithError("no CUDA device");
  run_scoring(state, c10::Device(c10::kCUDA, 0));
}

void BM_SyntheticGpCpu(benchmark::State& state) { run_synthetic_gp(state, c10::Device(c10::kCPU)); }
void BM_SyntheticGpCuda(benchmark::State& state) {
  if (!cuda_usable()) return state.SkipWithError("no CUDA device");
  run_synthetic_gp(state, c10::Device(c10::kCUDA, 0));
}

BENCHMARK(BM_SeriesLossCpu)->Args({256, 256, 512, 9})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SeriesLossCuda)
    ->Args({256, 256, 512, 9})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ScoringCpu)->Args({256, 1000, 2000})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ScoringCuda)->Args({256, 1000, 2000})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SyntheticGpCpu)
    ->Args({1000, 1024})
    ->Args({100, 1024})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_SyntheticGpCuda)->Args({1000, 1024})->Unit(benchmark::kMillisecond)->UseRealTime();
// G models of d_model 128 on the CPU; 64 chronos-bolt-tiny-sized ones on CUDA.
BENCHMARK(BM_ChronosBoltCpu)->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ChronosBoltCuda)
    ->Args({64, 256})
    ->Args({1, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace crucible

int main(int argc, char** argv) {
  crucible::set_cpu_threads(0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
