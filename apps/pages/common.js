// Shared by crucible's pages: apps/chart_page.cpp inlines it before each
// page's own script. Stable colours per uid, table cells (text left-aligned,
// numbers right), tables, axis titles.
var crucible = (function () {
  "use strict";
  // The same uid has the same colour on every chart and every page.
  function colour(uid, alpha) {
    var hue = (uid * 137.508) % 360;
    return "hsla(" + hue.toFixed(1) + ", 70%, 42%, " + alpha + ")";
  }
  function escaped(text) {
    return String(text).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[c];
    });
  }
  // A number to 6 significant places, text escaped, "-" for nothing.
  function cell(value) {
    if (value === null || value === undefined) return "-";
    return typeof value === "number" ? String(Number(value.toPrecision(6))) : escaped(value);
  }
  // An HTML table with a heading; rows are arrays of cells. `rowClass`
  // (optional) gives a row's index a class name, or "" for none.
  function table(title, head, rows, rowClass) {
    var html = "<h2>" + escaped(title) + "</h2><table><tr>" +
               head.map(function (h) { return "<th>" + escaped(h) + "</th>"; }).join("") + "</tr>";
    rows.forEach(function (r, i) {
      var name = rowClass ? rowClass(i) : "";
      html += (name ? "<tr class=\"" + escaped(name) + "\">" : "<tr>") + r.map(function (v) {
        return (typeof v === "string" ? "<td class=\"text\">" : "<td>") + cell(v) + "</td>";
      }).join("") + "</tr>";
    });
    return html + "</table>";
  }
  function axisTitle(text) { return {display: true, text: text}; }
  return {colour: colour, cell: cell, table: table, axisTitle: axisTitle};
})();
