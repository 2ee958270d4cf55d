// `crucible validator`: the long-running validator. Wires the chain, the
// model hub and store, the state, the background services (model manager,
// weight setter, status endpoint) and the step loop. One validator per state
// directory (StateDirLock). A first SIGINT / SIGTERM stops it after the step
// in progress, with the state saved; a second one kills the step's worker
// processes and exits at once with 128 + the signal, the saved state staying
// the last completed step's.
#include <spdlog/spdlog.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "cli_error.h"
#include "cli_options.h"
#include "commands.h"
#include "crucible/common/files.h"
#include "crucible/engine/device.h"
#include "crucible/validator/child_processes.h"
#include "crucible/validator/disk_model_store.h"
#include "crucible/validator/engine_round_evaluator.h"
#include "crucible/validator/health_monitor.h"
#include "crucible/validator/local_chain.h"
#include "crucible/validator/local_directory_hub.h"
#include "crucible/validator/log.h"
#include "crucible/validator/model_manager.h"
#include "crucible/validator/state_dir_lock.h"
#include "crucible/validator/state_store.h"
#include "crucible/validator/status_server.h"
#include "crucible/validator/step_history.h"
#include "crucible/validator/stop_signals.h"
#include "crucible/validator/validator.h"
#include "crucible/validator/weight_setter.h"
#include "history_page.h"
#ifdef CRUCIBLE_HAVE_CURL
#include "crucible/validator/http_hub.h"
#endif

namespace crucible {
namespace {

void log_line(LogLevel level, const std::string& line) {
  switch (level) {
    case LogLevel::kDebug:
      spdlog::debug("{}", line);
      break;
    case LogLevel::kInfo:
      spdlog::info("{}", line);
      break;
    case LogLevel::kWarn:
      spdlog::warn("{}", line);
      break;
    case LogLevel::kError:
      spdlog::error("{}", line);
      break;
  }
}

const char* signal_name(int signal) { return signal == SIGINT ? "SIGINT" : "SIGTERM"; }

struct ValidatorCliOptions {
  std::string chain, hub, hub_endpoint, schedule, log_level = "info";
  std::string state_dir = "crucible-state";
  std::string netuid, wallet_name, wallet_hotkey, hotkey;
  EngineEvaluatorOptions engine;
  std::string isolation = "process";
  long long memory_limit_mib = 0, memory_budget_mib = 0;
  ValidatorOptions loop;
  ModelManagerOptions manager;
  double weights_interval = 600.0;
  double chain_stale_after = 300.0;
  long long metrics_max_mib = 64;
  std::string http_bind = "127.0.0.1";
  int http_port = 9184;
  bool no_http = false;
  std::vector<Uid> exclude_uids;
};

// The local chain folder of `--chain local:DIR`.
std::string chain_directory(const std::string& spec) {
  if (spec.rfind("local:", 0) != 0 || spec.size() == 6) {
    throw CliError("--chain: expected local:DIR (a local chain folder)");
  }
  return spec.substr(6);
}

std::shared_ptr<Chain> open_chain(const std::string& spec, const std::string& hotkey) {
  LocalChainOptions options;
  options.writer_hotkey = hotkey;
  return std::make_shared<LocalChain>(chain_directory(spec), LocalChain::wall_now_seconds, options);
}

// Why weights are held after a load whose EMAs did not come from the
// current generation.
std::string ema_restore_reason(const StateStore::LoadReport& loaded) {
  for (const StateStore::PartSource& part : loaded.parts) {
    if (part.part == "ema.json" && !part.fresh) {
      return "the EMAs were restored from an older step (" + part.generation + ", step " +
             std::to_string(part.step) + ")";
    }
  }
  return "the EMAs started fresh: no saved generation holds an intact ema.json";
}

// An ss58 address: base58 characters, 46 to 50 of them.
void check_hotkey_address(const std::string& hotkey) {
  static const std::string base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  if (hotkey.empty()) return;
  if (hotkey.size() < 46 || hotkey.size() > 50 ||
      hotkey.find_first_not_of(base58) != std::string::npos) {
    throw CliError("--hotkey: expected an ss58 address (46 to 50 base58 characters), got \"" +
                   hotkey.substr(0, 64) + "\"");
  }
}

// The hub token: the first line of the file HF_TOKEN_FILE names (a Docker
// secret), else HF_TOKEN, else none. The token itself is never shown.
std::string hub_token() {
  const char* file = std::getenv("HF_TOKEN_FILE");
  if (file != nullptr && *file != '\0') {
    std::string text;
    try {
      text = read_file(file);
    } catch (const std::exception&) {
      throw CliError(std::string("HF_TOKEN_FILE: ") + file + ": cannot read the token file");
    }
    const std::string token = text.substr(0, text.find_first_of("\r\n"));
    return token;
  }
  const char* token = std::getenv("HF_TOKEN");
  return token ? token : "";
}

std::unique_ptr<ModelHub> open_hub(const ValidatorCliOptions& o) {
  if (o.hub.empty() == o.hub_endpoint.empty()) {
    throw CliError("give exactly one of --hub DIR and --hub-endpoint URL");
  }
  if (!o.hub.empty()) {
    if (!std::filesystem::is_directory(o.hub)) throw CliError("--hub: " + o.hub + ": not a folder");
    return std::make_unique<LocalDirectoryHub>(o.hub);
  }
#ifdef CRUCIBLE_HAVE_CURL
  HttpHubOptions http;
  http.endpoint = o.hub_endpoint;
  http.token = hub_token();
  http.log = [](const std::string& line) { spdlog::warn("{}", line); };  // "hub: ..."
  return std::make_unique<HttpHub>(http);
#else
  throw CliError("--hub-endpoint: this build has no HTTP hub (libcurl was not found)");
#endif
}

void run_validator(ValidatorCliOptions o) {
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  const std::pair<const char*, double> positive[] = {
      {"--timeout-per-model", o.engine.timeout_seconds},
      {"--idle-poll", o.loop.idle_poll_seconds},
      {"--sync-interval", o.manager.sync_interval_seconds},
      {"--retry-interval", o.manager.retry_seconds},
      {"--weights-interval", o.weights_interval},
      {"--jobs", static_cast<double>(o.engine.parallel_workers)}};
  for (const auto& [flag, value] : positive) {
    if (!(value > 0)) throw CliError(std::string(flag) + ": expected a value > 0");
  }
  if (o.engine.step_timeout_seconds < 0 || o.memory_limit_mib < 0 || o.memory_budget_mib < 0) {
    throw CliError("--step-timeout, --memory-limit-mib and --gpu-memory-budget must be >= 0");
  }
  if (o.metrics_max_mib < 0) throw CliError("--metrics-max-mib: expected MiB >= 0 (0: never)");
  o.loop.metrics_rotate_bytes = static_cast<uint64_t>(o.metrics_max_mib) << 20;
  if (o.loop.max_steps < 0) {
    throw CliError("--steps: expected 0 (run until stopped) or a number of steps > 0, got " +
                   std::to_string(o.loop.max_steps));
  }
  if (!(o.chain_stale_after >= 0) || !std::isfinite(o.chain_stale_after)) {
    throw CliError("--chain-stale-after: expected seconds >= 0 (0: never stale)");
  }
  with_context("--precision", [&] {
    return parse_native_precision(o.engine.precision, with_context("--device", [&] {
                                    return parse_device(o.engine.device);
                                  }));
  });
  const CompetitionSchedule schedule = o.schedule.empty() ? CompetitionSchedule::builtin_default()
                                                          : CompetitionSchedule::load(o.schedule);
  check_hotkey_address(o.hotkey);
  if (!o.no_http) {  // before the state is locked or loaded
    with_context("--http-bind " + o.http_bind + " --http-port " + std::to_string(o.http_port),
                 [&] { StatusServer::check_address(o.http_bind, o.http_port); });
  }
  std::shared_ptr<Chain> chain = open_chain(o.chain, o.hotkey);
  // A chain that cannot be read at the start is a configuration error.
  const int64_t netuid = chain->metagraph().netuid;
  std::unique_ptr<ModelHub> hub = open_hub(o);
  const StateDirLock lock(o.state_dir);  // before anything reads or writes the state
  // One writer of the chain folder's weights.jsonl.
  const StateDirLock weights_lock(chain_directory(o.chain), "weights.lock",
                                  "another validator writing weights.jsonl");
  if (o.hotkey.empty()) {
    spdlog::warn(
        "no --hotkey: the weights lines carry no hotkey, and a bridge submits none of them");
  }
  spdlog::info("crucible validator: netuid {} ({}), wallet {}/{}, state {}", netuid, o.chain,
               o.wallet_name.empty() ? "-" : o.wallet_name,
               o.wallet_hotkey.empty() ? "-" : o.wallet_hotkey, o.state_dir);
  if (!o.netuid.empty() && o.netuid != std::to_string(netuid)) {
    spdlog::warn("--netuid {} differs from the chain's netuid {}; the chain's is used", o.netuid,
                 netuid);
  }
  DiskModelStore store(o.state_dir + "/models");
  ValidatorState state;
  StateStore state_store(o.state_dir + "/state");
  const StateStore::LoadReport loaded = state_store.load(state);
  for (const std::string& warning : loaded.warnings) spdlog::warn("state: {}", warning);
  for (const std::string& error : loaded.errors) spdlog::error("state: {}", error);
  spdlog::info("state: {}", loaded.fresh ? "fresh start" : "resumed from " + loaded.generation);

  o.engine.isolate = o.isolation == "process";
  check_worker_memory_limit(o.memory_limit_mib);
  o.engine.memory_limit_bytes = o.memory_limit_mib << 20;
  o.engine.memory_budget_bytes = o.memory_budget_mib << 20;
  o.engine.work_dir = o.state_dir + "/rounds";
  const size_t leftovers = remove_round_folders(o.engine.work_dir);
  if (leftovers > 0) {
    spdlog::info("removed {} round working folder{} left by a run that did not end cleanly",
                 leftovers, leftovers == 1 ? "" : "s");
  }
  EngineRoundEvaluator evaluator(o.engine);
  ValidatorMetrics metrics;
  o.manager.exclude_uids.insert(o.exclude_uids.begin(), o.exclude_uids.end());
  if (!o.manager.exclude_uids.empty()) {
    std::string uids;
    for (Uid uid : o.manager.exclude_uids) uids += (uids.empty() ? "" : ", ") + std::to_string(uid);
    spdlog::info("excluded uids (never evaluated nor weighted): {}", uids);
  }
  ModelManager manager(chain, *hub, store, state, schedule, o.manager, log_line, &metrics);
  o.loop.state_dir = o.state_dir;
  Validator validator(chain, manager, evaluator, schedule, state, state_store, metrics, o.loop,
                      log_line);
  if (loaded.ema_restored_or_fresh) {
    validator.hold_weights(ema_restore_reason(loaded));
  } else if (!validator.weights_held().empty()) {
    spdlog::warn("weights held until a full window is scored: {}", validator.weights_held());
  }

  // Before any thread or worker process starts, so they inherit the blocked signals.
  const StopSignals signals(
      [&validator](int signal) {
        const std::string step = validator.step_in_progress();
        if (step.empty()) {
          spdlog::info("stop requested ({}): no step in progress, stopping", signal_name(signal));
        } else {
          spdlog::info(
              "stop requested ({}): waiting for {} to finish; a second SIGINT or SIGTERM "
              "aborts it",
              signal_name(signal), step);
        }
      },
      [&validator](int signal) {
        const std::string step = validator.step_in_progress();
        const size_t killed = signal_child_processes(SIGKILL);
        spdlog::warn(
            "second stop signal ({}): aborted {}, killed {} worker process{}; exiting "
            "with the state of the last completed step",
            signal_name(signal), step.empty() ? "the shutdown" : step, killed,
            killed == 1 ? "" : "es");
        spdlog::default_logger()->flush();
      });
  HealthMonitorOptions health_options;
  health_options.stale_after_seconds = o.chain_stale_after;
  HealthMonitor health(chain, metrics, health_options, log_line);
  std::unique_ptr<StatusServer> status;
  if (!o.no_http) {
    StatusServerOptions server;
    server.host = o.http_bind;
    server.port = o.http_port;
    server.routes["/history.json"] = step_history_route(o.state_dir + "/metrics.jsonl");
    const ChartLibrary chart = find_chart_library();
    const std::string dashboard = history_dashboard_html(chart, kDefaultHistorySteps);
    server.routes["/dashboard"] = [dashboard](const std::string&) {
      return StatusResponse{200, "text/html; charset=utf-8", dashboard};
    };
    status = std::make_unique<StatusServer>(metrics, server);
    const std::string where = "http://" + o.http_bind + ":" + std::to_string(status->port());
    spdlog::info("status: {}/metrics, {}/healthz, {}/status", where, where, where);
    if (chart.script.empty()) {
      spdlog::warn("dashboard: {}/dashboard shows tables: {}", where, chart.missing_reason);
    } else {
      spdlog::info("dashboard: {}/dashboard (Chart.js from {})", where, chart.path);
    }
  }
  health.start();
  manager.start();
  WeightSetter::Options setter_options;
  setter_options.interval_seconds = o.weights_interval;
  setter_options.initial_backoff_seconds = std::min(10.0, o.weights_interval);
  WeightSetter setter(
      chain, [&validator] { return validator.current_weights(); }, setter_options,
      [](const std::string& line) { spdlog::info("weights: {}", line); },
      [&health] { return health.check(); });
  metrics.set_started(true);
  const int64_t steps = validator.run(signals.requested());
  setter.stop();
  manager.stop();
  health.stop();
  spdlog::info("stopped after {} evaluated steps", steps);
  const std::optional<WeightsSubmission> weights = validator.current_weights();
  std::string shown;
  for (size_t i = 0; weights && i < weights->uids.size(); ++i) {
    if (weights->weights[i] > 0.0) {
      shown += " uid " + std::to_string(weights->uids[i]) + ": " +
               std::to_string(weights->weights[i]) + ";";
    }
  }
  spdlog::info("subnet weights:{}", shown.empty() ? " none yet" : shown);
  if (!weights) return;
  const std::string stale = health.check();
  if (!stale.empty()) {
    spdlog::warn("weights: no final set_weights: {}", stale);
    return;
  }
  try {
    chain->set_weights(*weights);  // the last step's weights, also when stopped between cadences
  } catch (const std::exception& e) {
    spdlog::warn("weights: final set_weights failed: {}", e.what());
  }
}

}  // namespace

CommandRun add_validator_command(CLI::App& app) {
  auto o = std::make_shared<ValidatorCliOptions>();
  o->engine.step_timeout_seconds = 3600.0;
  CLI::App* cmd =
      app.add_subcommand("validator",
                         "Run the validator loop (options may also come from --config FILE.toml, "
                         "a [validator] section)");
  cmd->fallthrough();  // --config belongs to the main app, which reads the [validator] section
  cmd->add_option("--chain", o->chain, "local:DIR, a local chain folder")->required();
  cmd->add_option("--hub", o->hub, "a local model hub folder DIR/<ns>/<name>/<commit>/");
  cmd->add_option("--hub-endpoint", o->hub_endpoint, "a Hugging Face-style hub URL (HF_TOKEN)");
  cmd->add_option("--state-dir", o->state_dir, "state, models and metrics.jsonl")
      ->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "competition schedule JSON (default: built in)");
  cmd->add_option("--device", o->engine.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--precision", o->engine.precision,
                  "native models' matrix products on CUDA: fp32 (validators agree to the bit) "
                  "or tf32 (faster, not bit-equal)")
      ->check(CLI::IsMember({"fp32", "tf32"}))
      ->capture_default_str();
  cmd->add_option("--isolation", o->isolation, "process or none (trusted models only)")
      ->check(CLI::IsMember({"process", "none"}))
      ->capture_default_str();
  cmd->add_option("--jobs", o->engine.parallel_workers, "worker processes")->capture_default_str();
  cmd->add_option("--timeout-per-model", o->engine.timeout_seconds, "seconds")
      ->capture_default_str();
  cmd->add_option("--step-timeout", o->engine.step_timeout_seconds,
                  "seconds for all models of a step; 0 = none")
      ->capture_default_str();
  cmd->add_option("--memory-limit-mib", o->memory_limit_mib, "per worker; 0 = none")
      ->capture_default_str();
  cmd->add_option("--gpu-memory-budget", o->memory_budget_mib, "MiB; 0 = 90% of free memory")
      ->capture_default_str();
  cmd->add_option("--steps", o->loop.max_steps,
                  "steps that evaluate a model; 0 = run until stopped")
      ->capture_default_str();
  cmd->add_option("--idle-poll", o->loop.idle_poll_seconds, "seconds between polls when idle")
      ->capture_default_str();
  cmd->add_option("--sync-interval", o->manager.sync_interval_seconds,
                  "seconds between walks over the miners")
      ->capture_default_str();
  cmd->add_option("--retry-interval", o->manager.retry_seconds,
                  "seconds before an unchanged commitment is looked at again")
      ->capture_default_str();
  cmd->add_option("--weights-interval", o->weights_interval, "seconds between set-weights")
      ->capture_default_str();
  cmd->add_option("--exclude-uids", o->exclude_uids, "uids never evaluated")->delimiter(',');
  cmd->add_option("--metrics-max-mib", o->metrics_max_mib,
                  "rotate metrics.jsonl at this size (keeping 3 older files); 0 = never")
      ->capture_default_str();
  cmd->add_option("--chain-stale-after", o->chain_stale_after,
                  "seconds after which chain data counts as stale (no weights set, /healthz "
                  "503); 0 = never")
      ->capture_default_str();
  cmd->add_option("--http-bind", o->http_bind,
                  "address of the status endpoint (0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--http-port", o->http_port, "port of the status endpoint")
      ->capture_default_str();
  cmd->add_flag("--no-http", o->no_http, "no status endpoint");
  cmd->add_option("--log-level", o->log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd->add_option("--netuid", o->netuid, "shown in logs (the local chain names its own)");
  cmd->add_option("--wallet.name", o->wallet_name, "shown in logs");
  cmd->add_option("--wallet.hotkey", o->wallet_hotkey, "shown in logs");
  cmd->add_option("--hotkey", o->hotkey,
                  "this validator's hotkey address (ss58), written with its weights; a bridge "
                  "submits only its own wallet's lines");
  return [o] { run_validator(*o); };
}

}  // namespace crucible
