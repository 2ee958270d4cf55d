#include "history_page.h"

#include "page_assets.h"

namespace crucible {
namespace {

// The charts of a history page (the id names the chart's datasets in
// history_page.js).
ChartPage history_page(const std::string& mode, size_t steps, const std::string& detail) {
  ChartPage page;
  page.title = "crucible validator";
  page.detail = detail;
  page.attributes = {{"data-mode", mode}, {"data-steps", std::to_string(steps)}};
  page.charts = {{"ema", "EMA per uid"},
                 {"weight", "Weight per uid"},
                 {"mean_loss", "Mean loss per uid"},
                 {"composite", "Composite score per uid"},
                 {"seconds", "Step duration"},
                 {"queues", "Queue sizes"},
                 {"failures", "Failures by reason"},
                 {"current_weights", "Current subnet weights"}};
  page.script = kHistoryPageScript;
  return page;
}

}  // namespace

std::string history_report_html(const ChartLibrary& chart, const nlohmann::ordered_json& history,
                                const std::string& source) {
  const size_t steps = history.contains("steps") ? history["steps"].size() : 0;
  ChartPage page = history_page("report", steps, "report of " + source);
  page.data_id = "crucible-history";
  page.data = history;
  return chart_page_html(chart, page);
}

std::string history_dashboard_html(const ChartLibrary& chart, size_t steps) {
  return chart_page_html(chart, history_page("live", steps,
                                             "live: the last " + std::to_string(steps) +
                                                 " steps, refreshed every 5 s"));
}

}  // namespace crucible
