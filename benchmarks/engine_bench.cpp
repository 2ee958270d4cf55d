// Micro benchmarks of the data-sized steps of a round: the per-series loss
// (U=256, S=256, H=512, Q=9), the scoring (U=256, S=1000, B=2000) and the
// synthetic GP data (S=1000 and 100, L=1024), the stacked Chronos-Bolt
// forecast of G models (S=100, L=1024, FLOP/s counted) and the stacked
// Chronos-2 forecast of G models on a grouped task with covariates, on the
// CPU and, when a device is present, on CUDA. Compare with
// benchmarks/python_reference.py, benchmarks/native_benchmark.sh and
// benchmarks/chronos2_reference.py (see BENCHMARKS.md for the commands).
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "crucible/engine/data/synthetic_gp.h"
#include "crucible/engine/data/synthetic_gp_torch.h"
#include "crucible/engine/device.h"
#include "crucible/engine/models/native/native_forecaster.h"
#include "crucible/engine/scoring/model_scoring.h"
#include "crucible/engine/scoring/quantile_levels.h"
#include "crucible/engine/scoring/series_losses.h"
#include "engine/models/native/chronos2/chronos2_baselines.h"
#include "engine/models/native/chronos2/chronos2_config.h"
#include "engine/models/native/chronos_bolt/chronos_bolt.h"

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

// The mean CRPS of each model's forecasts [G, S, H, Q] of `task`, float64 [G].
at::Tensor mean_losses(const at::Tensor& forecasts, const TaskData& task, int64_t horizon) {
  const at::Tensor targets = at::from_blob(const_cast<float*>(task.targets.data()),
                                           {task.num_series, task.target_width}, at::kFloat)
                                 .narrow(1, 0, horizon)
                                 .to(forecasts.device());
  const at::Tensor lengths =
      at::tensor(task.target_lengths, at::kLong).clamp_max(horizon).to(forecasts.device());
  return series_losses(LossMetric::kCrps, targets, forecasts, lengths, default_quantile_levels())
      .nanmean(1)
      .cpu();
}

// The stacked forecast of G random models (range 0) of d_model (range 1) on
// S synthetic series (range 3) of length 1024, horizon H (range 2, 0: the
// task's own), with the native forwards' matrix products in `precision`. With tf32
// the "loss_drift" counter is the largest relative change of a model's mean
// CRPS against the same forecast in fp32.
void run_chronos_bolt(benchmark::State& state, const c10::Device& device,
                      NativePrecision precision = NativePrecision::kFp32) {
  const ChronosBoltStack stack = random_stack(state.range(0), state.range(1), device);
  SyntheticGpOptions gp;
  gp.seed = 1;
  gp.num_series = state.range(3);
  gp.length = 1024;
  TaskData task = generate_synthetic_gp_cpu(gp);
  const at::Tensor inputs =
      at::from_blob(task.inputs.data(), {task.num_series, task.input_width}, at::kFloat);
  const at::Tensor lengths = at::tensor(task.input_lengths, at::kLong);
  QuantileForecastRequest request;
  request.horizon = state.range(2) > 0 ? state.range(2) : task.target_width;
  request.levels = default_quantile_levels();
  request.needed_steps.assign(static_cast<size_t>(task.num_series), request.horizon);
  ForecastWork work;
  request.work = &work;
  const NativePrecisionScope scope(precision);
  at::Tensor forecasts;
  for (auto _ : state) {
    work = ForecastWork{};
    forecasts = chronos_bolt_predict_quantiles(stack, inputs, lengths, request);
    benchmark::DoNotOptimize(forecasts.sum().item<float>());
  }
  state.counters["models/s"] = benchmark::Counter(static_cast<double>(stack.models),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["FLOP/s"] = benchmark::Counter(chronos_bolt_flops(stack.config, work),
                                                benchmark::Counter::kIsIterationInvariantRate);
  if (precision == NativePrecision::kTf32 && request.horizon <= task.target_width) {
    at::Tensor exact;
    {
      const NativePrecisionScope fp32(NativePrecision::kFp32);
      exact = chronos_bolt_predict_quantiles(stack, inputs, lengths, request);
    }
    const at::Tensor reference = mean_losses(exact, task, request.horizon);
    const at::Tensor drift =
        (mean_losses(forecasts, task, request.horizon) - reference).abs() / reference.abs();
    state.counters["loss_drift"] = drift.max().item<double>();
  }
}

// A Chronos-2 config shaped like chronos-2-small (Chronos2CoreConfig's
// defaults: d_model 512, d_ff 2048, 8 heads x d_kv 64, 6 layers) at d_model,
// as random_stack scales chronos-bolt-tiny: d_ff 4 d_model, d_model / 64 heads
// of d_kv 64, 6 layers, context 2048 (the released 8192 cut like Bolt's),
// patch 16, 64 output patches, the 21 released quantile levels, arcsinh.
Chronos2Config bench_chronos2_config(int64_t d_model) {
  Chronos2Config c = baseline_chronos2_config();
  c.d_model = d_model;
  c.d_ff = 4 * d_model;
  c.d_kv = 64;
  c.num_heads = d_model / 64;
  c.num_layers = 6;
  c.context_length = c.time_encoding_scale = 2048;
  c.max_output_patches = 64;
  return c;
}

// Model i's random weights, reproducible in benchmarks/chronos2_reference.py:
// the default generator seeded 1000 + i, then per tensor in name order
// randn(shape) * 0.05, layer norms 1.
NativeWeights random_chronos2_weights(const Chronos2Config& config, int64_t model,
                                      const c10::Device& device) {
  at::manual_seed(static_cast<uint64_t>(1000 + model));
  NativeWeights weights;
  for (const auto& [name, shape] : chronos2_tensor_shapes(config)) {
    const bool norm = name.find("layer_norm") != std::string::npos;
    weights[name] = (norm ? at::ones(shape) : at::randn(shape) * 0.05).to(device);
  }
  return weights;
}

// The grouped synthetic task: `groups` groups of 1 target + 1 past-only + 1
// known covariate, length 1024, seed 1 (`crucible synth --series GROUPS
// --length 1024 --seed 1 --group-targets 1 --past-covariates 1
// --known-covariates 1`).
TaskData chronos2_task(int64_t groups) {
  SyntheticGpOptions gp;
  gp.seed = 1;
  gp.num_series = groups;
  gp.length = 1024;
  gp.group_targets = gp.past_covariates = gp.known_covariates = 1;
  return generate_synthetic_gp_cpu(gp);
}

// The stacked Chronos-2 forecast of G random models (range 0) of d_model
// (range 1) on chronos2_task(range 2) through the registry (the stacking
// copy included, as `crucible eval` calls it), horizon the task's own,
// levels 0.1 .. 0.9. Counters: series/s (every row, covariates included,
// per model: G x rows per second) and s/model (wall time per model).
void run_chronos2(benchmark::State& state, const c10::Device& device) {
  const Chronos2Config config = bench_chronos2_config(state.range(1));
  const int64_t models = state.range(0);
  std::vector<NativeWeights> weights;
  std::vector<const NativeWeights*> stack;
  weights.reserve(static_cast<size_t>(models));
  for (int64_t i = 0; i < models; ++i)
    weights.push_back(random_chronos2_weights(config, i, device));
  for (const NativeWeights& w : weights) stack.push_back(&w);
  const TaskData task = chronos2_task(state.range(2));
  QuantileForecastRequest request;
  request.horizon = task.target_width;
  request.levels = default_quantile_levels();
  request.needed_steps = task.target_lengths;
  const NativeForecaster& forecaster = native_forecaster(config);
  at::Tensor forecasts;
  for (auto _ : state) {
    forecasts = forecaster.predict_quantiles(config, stack, task, request);
    benchmark::DoNotOptimize(forecasts.nansum().item<float>());
  }
  // Model 0's median over the target rows' needed steps, to compare with the
  // "mean median" chronos2_reference.py prints for model000.
  const at::Tensor targets = at::tensor(scored_rows(task), at::kLong).to(device);
  state.counters["median0"] =
      forecasts[0].index_select(0, targets).select(-1, 4).nanmean().item<double>();
  state.counters["series/s"] = benchmark::Counter(static_cast<double>(models * task.num_series),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["s/model"] = benchmark::Counter(
      static_cast<double>(models),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Chronos2Cpu(benchmark::State& state) { run_chronos2(state, c10::Device(c10::kCPU)); }
void BM_Chronos2Cuda(benchmark::State& state) {
  if (!cuda_usable()) return state.SkipWithError("no CUDA device");
  run_chronos2(state, c10::Device(c10::kCUDA, 0));
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
BENCHMARK(BM_ChronosBoltCpu)->Args({8, 128, 0, 100})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ChronosBoltCuda)
    ->Args({64, 256, 0, 100})
    ->Args({1, 256, 0, 100})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// U models of d_model 128 (chronos-2-small's ratios), 50 groups of 3 rows.
BENCHMARK(BM_Chronos2Cpu)
    ->Args({1, 128, 50})
    ->Args({4, 128, 50})
    ->Args({16, 128, 50})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Chronos2Cuda)
    ->Args({1, 128, 50})
    ->Args({16, 128, 50})
    ->Args({64, 128, 50})
    ->Args({256, 128, 50})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The benchmarks of record (scripts/device-build-and-test.sh, then
// benchmarks/record.py): named record/<what>/<device>, on CUDA when usable,
// else on the CPU. `full` is the figures' size; `small` the same workloads
// scaled down, to rehearse the device call on a CPU.
void register_record_benchmarks(const std::string& scale) {
  const bool full = scale == "full";
  const c10::Device device = cuda_usable() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  const std::string on = device.is_cuda() ? "cuda" : "cpu";
  const auto add = [](const std::string& name, auto run, std::vector<int64_t> args) {
    benchmark::RegisterBenchmark(name.c_str(), run)
        ->Args(args)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MinTime(0.5);
  };
  add(
      "record/loss/" + on, [device](benchmark::State& s) { run_loss(s, device); },
      full ? std::vector<int64_t>{256, 256, 512, 9} : std::vector<int64_t>{64, 64, 128, 9});
  add(
      "record/scoring/" + on, [device](benchmark::State& s) { run_scoring(s, device); },
      full ? std::vector<int64_t>{256, 1000, 2000} : std::vector<int64_t>{64, 256, 500});
  // chronos-bolt-tiny's shape (d_model 256) at full size; d_model 64 scaled
  // down. Arguments: models, d_model, horizon, series.
  const std::vector<std::vector<int64_t>> stacks =
      full ? std::vector<std::vector<int64_t>>{{64, 256, 512, 100}, {256, 256, 512, 100}}
           : std::vector<std::vector<int64_t>>{{4, 64, 128, 20}, {16, 64, 128, 20}};
  for (const std::vector<int64_t>& args : stacks) {
    add(
        "record/bolt_fp32/" + on,
        [device](benchmark::State& s) { run_chronos_bolt(s, device, NativePrecision::kFp32); },
        args);
    if (device.is_cuda()) {
      add(
          "record/bolt_tf32/" + on,
          [device](benchmark::State& s) { run_chronos_bolt(s, device, NativePrecision::kTf32); },
          args);
    }
  }
  // Chronos-2 (bench_chronos2_config): d_model 128 (chronos-2-small's ratios)
  // and 512 (its width) at full size, d_model 64 scaled down. Arguments:
  // models, d_model, groups of 1 target + 1 past + 1 known covariate.
  const std::vector<std::vector<int64_t>> chronos2 =
      full ? std::vector<std::vector<int64_t>>{{64, 128, 100}, {256, 128, 100}, {16, 512, 100}}
           : std::vector<std::vector<int64_t>>{{4, 64, 10}};
  for (const std::vector<int64_t>& args : chronos2) {
    add(
        "record/chronos2_fp32/" + on, [device](benchmark::State& s) { run_chronos2(s, device); },
        args);
  }
}

}  // namespace
}  // namespace crucible

int main(int argc, char** argv) {
  crucible::set_cpu_threads(0);
  crucible::keep_freed_host_memory();
  // --record=full|small registers the benchmarks of record (and is removed
  // before Google Benchmark reads the arguments).
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--record=", 0) != 0) continue;
    const std::string scale = arg.substr(9);
    if (scale != "full" && scale != "small") {
      std::fprintf(stderr, "engine_bench: --record: expected full or small, got '%s'\n",
                   scale.c_str());
      return 2;
    }
    crucible::register_record_benchmarks(scale);
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
    --i;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
