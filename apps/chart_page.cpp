#include "chart_page.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "crucible/common/files.h"
#include "page_assets.h"

namespace crucible {
namespace {

// Debian's libjs-chart.js: the UMD build a plain <script> element can run.
const char* const kChartPaths[] = {"/usr/share/javascript/chart.js/chart.min.js",
                                   "/usr/share/javascript/chart.js/chart.js"};

constexpr const char* kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
main { max-width: 1400px; margin: 0 auto; padding: 16px 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 0 0 6px; }
.detail, #crucible-note, #crucible-status { color: #555; margin: 2px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 16px; }
.chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px; }
.canvas-box { position: relative; height: 280px; }
table { border-collapse: collapse; margin: 8px 0 20px; background: #fff; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
td.text { text-align: left; }
#crucible-health { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
#crucible-health:empty { display: none; }
.health-item { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 6px 10px; }
.health-item b { display: block; font-size: 12px; color: #555; font-weight: normal; }
.health-ok { border-left: 6px solid #27ae60; }
.health-bad { border-left: 6px solid #c0392b; }
.health-warn { border-left: 6px solid #e67e22; }
tr.failing td { background: #fdecea; }
)css";

std::string html_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// JSON that can sit inside a <script> element: "</" cannot end it early.
std::string script_safe_json(const nlohmann::ordered_json& document) {
  const std::string text =
      document.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool ends_script_element(const std::string& text) {
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("</script") != std::string::npos;
}

}  // namespace

ChartLibrary find_chart_library() {
  ChartLibrary chart;
  const char* chosen = std::getenv("CRUCIBLE_CHART_JS");
  const bool from_environment = chosen != nullptr && *chosen != '\0';
  std::vector<std::string> candidates;
  if (from_environment) {
    candidates.push_back(chosen);
  } else {
    candidates.assign(std::begin(kChartPaths), std::end(kChartPaths));
  }
  for (const std::string& path : candidates) {
    if (!from_environment && !std::ifstream(path)) continue;
    try {
      chart.script = read_file(path);
    } catch (const std::runtime_error& e) {
      chart.missing_reason =
          (from_environment ? "CRUCIBLE_CHART_JS: " : "") + std::string(e.what());
      return chart;
    }
    if (ends_script_element(chart.script)) {
      chart.script.clear();
      chart.missing_reason = path + ": holds \"</script\", so it cannot be inlined";
      return chart;
    }
    chart.path = path;
    return chart;
  }
  chart.missing_reason = "Chart.js was not found at " + std::string(kChartPaths[0]);
  return chart;
}

std::string chart_page_html(const ChartLibrary& chart, const ChartPage& page) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       << "<title>" << html_escaped(page.title) << "</title>\n<style>" << kStyle << page.style
       << "</style>\n</head>\n<body>\n<main id=\"crucible-page\"";
  for (const auto& [name, value] : page.attributes) {
    html << " " << name << "=\"" << html_escaped(value) << "\"";
  }
  html << ">\n<h1>" << html_escaped(page.title) << "</h1>\n<p class=\"detail\">"
       << html_escaped(page.detail) << "</p>\n<div id=\"crucible-health\"></div>\n"
       << "<p id=\"crucible-summary\">Loading&hellip;</p>\n<p id=\"crucible-status\"></p>\n"
       << "<p id=\"crucible-note\">";
  if (chart.script.empty()) {
    html << "Charts are not drawn: " << html_escaped(chart.missing_reason)
         << ". Install Debian's libjs-chart.js (or set CRUCIBLE_CHART_JS to Chart.js 3 or later)"
         << " to see them; tables follow.";
  } else {
    html << "Charts drawn with Chart.js from " << html_escaped(chart.path) << ".";
  }
  html << "</p>\n<div id=\"crucible-tables\"></div>\n";
  if (!chart.script.empty()) {
    html << "<section class=\"grid\">\n";
    for (const ChartSlot& slot : page.charts) {
      const std::string title = html_escaped(slot.title);
      html << "<div class=\"chart\" data-chart-title=\"" << title << "\"><h2>" << title
           << "</h2><div class=\"canvas-box\"><canvas id=\"chart-" << html_escaped(slot.id)
           << "\"></canvas></div></div>\n";
    }
    html << "</section>\n";
  }
  if (!page.data_id.empty()) {
    html << "<script type=\"application/json\" id=\"" << html_escaped(page.data_id) << "\">"
         << script_safe_json(page.data) << "</script>\n";
  }
  if (!chart.script.empty()) html << "<script>\n" << chart.script << "\n</script>\n";
  html << "<script>\n"
       << kPageCommonScript << "\n</script>\n<script>\n"
       << page.script << "\n</script>\n</main>\n</body>\n</html>\n";
  return html.str();
}

}  // namespace crucible
