// A validator's history as one HTML page: the charts of docs/operators.md
// ("Dashboard and report") drawn by Chart.js from the series document of
// step_history.h. The same page serves two uses: `crucible report` inlines
// the document (a self-contained file that works offline), and the status
// endpoint's /dashboard fetches /history.json every few seconds.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "chart_page.h"

namespace crucible {

// A self-contained page of `history` (a step_history_document), for
// `crucible report`; `source` (the state folder) is shown under the title.
std::string history_report_html(const ChartLibrary& chart, const nlohmann::ordered_json& history,
                                const std::string& source);

// The live page served at /dashboard: it fetches /history.json?steps=N,
// N = `steps`, every 5 s.
std::string history_dashboard_html(const ChartLibrary& chart, size_t steps);

}  // namespace crucible
