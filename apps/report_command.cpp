// `crucible report`: a validator's history (its state folder's metrics.jsonl)
// as one self-contained HTML file of charts, to share or attach to an issue;
// it works offline (Chart.js and the data are inlined).
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "crucible/common/files.h"
#include "crucible/validator/step_history.h"
#include "history_page.h"

namespace crucible {
namespace {

struct ReportOptions {
  std::string state_dir, out;
  size_t steps = 1000;
};

void run_report(const ReportOptions& o) {
  struct stat info;
  if (::stat(o.state_dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    throw CliError(o.state_dir + ": --state-dir: not a folder");
  }
  if (o.steps < 1 || o.steps > kMaxHistorySteps) {
    throw CliError("--steps: must be 1 to " + std::to_string(kMaxHistorySteps));
  }
  const StepRecords records = read_last_step_records(o.state_dir + "/metrics.jsonl", o.steps);
  const ChartLibrary chart = find_chart_library();
  write_file_atomically(o.out,
                        history_report_html(chart, step_history_document(records), o.state_dir));
  std::printf("%s: %zu steps%s\n", o.out.c_str(), records.records.size(),
              chart.script.empty() ? (" as tables (" + chart.missing_reason + ")").c_str()
                                   : ", charts by Chart.js");
}

}  // namespace

CommandRun add_report_command(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* cmd =
      app.add_subcommand("report", "A validator's history as one self-contained HTML page");
  cmd->add_option("--state-dir", o->state_dir, "the validator's --state-dir")->required();
  cmd->add_option("--out", o->out, "the HTML file to write")->required();
  cmd->add_option("--steps", o->steps, "the last N steps (1 to 10000)")->capture_default_str();
  return [o] { run_report(*o); };
}

}  // namespace crucible
