// The shell every HTML page of crucible shares: Chart.js found at start-up
// (Debian's libjs-chart.js), a title, a note saying whether charts are drawn
// (and why not), one titled canvas per chart, the page's data inlined as
// JSON, then the scripts. Pages fall back to tables when Chart.js is missing.
// Nothing is loaded from the internet: the library and the scripts are
// inlined, so a written page works offline.
#pragma once

#include <string>
#include <vector>

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

struct ChartSlot {
  std::string id;     // the canvas is "chart-<id>"
  std::string title;  // shown above it and in its data-chart-title
};

struct ChartPage {
  std::string title;   // <title> and <h1>
  std::string detail;  // the line under the heading
  // Attributes of <main id="crucible-page">, e.g. {"data-mode", "report"}.
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<ChartSlot> charts;  // left out when Chart.js is missing
  std::string data_id;            // the inlined JSON's element id; none when empty
  nlohmann::ordered_json data;
  const char* style = "";   // the page's own CSS, after the shared rules
  const char* script = "";  // the page's own script (apps/pages/)
};

// The whole page. Text is HTML-escaped; the JSON cannot end its element.
std::string chart_page_html(const ChartLibrary& chart, const ChartPage& page);

}  // namespace crucible
