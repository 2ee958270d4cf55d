// A validator's history as one HTML page: the charts of docs/operators.md
// ("Dashboard and report") drawn by Chart.js from the series document of
// step_history.h. The same page serves two uses: `crucible report` inlines
// the document (a self-contained file that works offline), and the status
// endpoint's /dashboard fetches /history.json every few seconds. Chart.js
// comes from Debian's libjs-chart.js and is inlined too; where it is missing
// the page shows tables and says why. Nothing is loaded from the internet.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace crucible {

// Chart.js, as found at start-up.
struct ChartLibrary {
  std::string script;          // the library's text; empty when not found
  std::string path;            // where it was read from
  std::string missing_reason;  // one line when `script` is empty
};

// Reads the file CRUCIBLE_CHART_JS names when that is set, else the first of
// Debian's libjs-chart.js files that exists. Never throws: a file that cannot
// be read, or whose text would end the page's <script> element, is reported
// in missing_reason.
ChartLibrary find_chart_library();

// A self-contained page of `history` (a step_history_document), for
// `crucible report`; `source` (the state folder) is shown under the title.
std::string history_report_html(const ChartLibrary& chart, const nlohmann::ordered_json& history,
                                const std::string& source);

// The live page served at /dashboard: it fetches /history.json?steps=N,
// N = `steps`, every 5 s.
std::string history_dashboard_html(const ChartLibrary& chart, size_t steps);

}  // namespace crucible
