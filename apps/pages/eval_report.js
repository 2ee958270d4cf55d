// Draws the page of `crucible eval --report` from the document inlined in
// #crucible-eval (apps/eval_report.cpp builds it): the ranked table, each
// model's per-series loss distribution, and fan charts of the quantile bands
// of the best-ranked models against each chosen series' context and truth.
// Without Chart.js it shows the tables only; #crucible-note says why.
(function () {
  "use strict";
  var doc = JSON.parse(document.getElementById("crucible-eval").textContent);
  var colour = crucible.colour, axisTitle = crucible.axisTitle;
  var LOSS_AXIS = doc.metric + " per series (target units)";
  var scored = doc.models.filter(function (m) { return m.loss_percentiles.length > 0; });

  function percentileRows() {
    return scored.map(function (m) {
      var p = m.loss_percentiles;
      return [m.uid, m.name, m.finite_series, p[0], p[10], p[25], p[50], p[75], p[90], p[100]];
    });
  }
  function tables(withCharts) {
    var ranked = doc.models.map(function (m) {
      return [m.rank, m.uid, m.name, m.status, m.mean_loss, m.win_rate, m.composite, m.weight,
              m.seconds, m.reason];
    });
    var html = crucible.table("Ranking (weight*: the softmax of this round's composites alone)", ["rank", "uid", "model", "status", "mean loss",
                                          "win rate", "composite", "weight*", "seconds", "reason"],
                              ranked);
    if (!withCharts) {
      html += crucible.table("Per-series loss by model (percentiles over series)",
                             ["uid", "model", "series scored", "min", "10%", "25%", "median",
                              "75%", "90%", "max"], percentileRows());
    }
    document.getElementById("crucible-tables").innerHTML = html;
  }

  // A logarithmic axis when the values span more than two decades, else linear.
  function lossScale(values, title) {
    var positive = values.filter(function (v) { return v !== null && v > 0; });
    var wide = positive.length === values.length && positive.length > 0 &&
               Math.max.apply(null, positive) / Math.min.apply(null, positive) > 100;
    return {type: wide ? "logarithmic" : "linear", title: axisTitle(title)};
  }
  function baseOptions(x, y) {
    return {animation: false, responsive: true, maintainAspectRatio: false,
            plugins: {legend: {position: "right", labels: {boxWidth: 12}}},
            scales: {x: x, y: y}};
  }

  // Floating bars: 10-90% and 25-75% of the series' losses, median marked.
  function drawLossSpread() {
    var labels = scored.map(function (m) { return "uid " + m.uid; });
    var band = function (lo, hi, alpha, label) {
      return {label: label, grouped: false, borderWidth: 1,
              data: scored.map(function (m) {
                return [m.loss_percentiles[lo], m.loss_percentiles[hi]];
              }),
              backgroundColor: scored.map(function (m) { return colour(m.uid, alpha); }),
              borderColor: scored.map(function (m) { return colour(m.uid, 1); })};
    };
    var all = [];
    scored.forEach(function (m) { all.push(m.loss_percentiles[10], m.loss_percentiles[90]); });
    new Chart(document.getElementById("chart-loss_spread"), {
      type: "bar",
      data: {labels: labels, datasets: [
        band(10, 90, 0.2, "10% to 90% of series"), band(25, 75, 0.55, "25% to 75% of series"),
        {type: "line", label: "median", showLine: false, pointStyle: "line", pointRadius: 14,
         pointBorderWidth: 3, borderColor: "#111", backgroundColor: "#111",
         data: scored.map(function (m) { return m.loss_percentiles[50]; })}]},
      options: spreadOptions(all)});
  }
  // The bands' legend swatches in grey: each bar has its model's colour.
  function spreadOptions(all) {
    var options = baseOptions({title: axisTitle("model (ranked)")}, lossScale(all, LOSS_AXIS));
    var grey = ["rgba(0, 0, 0, 0.15)", "rgba(0, 0, 0, 0.45)"];
    options.plugins.legend.labels.generateLabels = function (chart) {
      return Chart.defaults.plugins.legend.labels.generateLabels(chart).map(function (item) {
        if (item.datasetIndex < grey.length) {
          item.fillStyle = grey[item.datasetIndex];
          item.strokeStyle = "#555";
        }
        return item;
      });
    };
    return options;
  }

  // The empirical distribution function: share of series with a loss below x.
  function drawLossCdf() {
    var all = [];
    var datasets = scored.map(function (m) {
      all.push(m.loss_percentiles[0], m.loss_percentiles[100]);
      return {label: "uid " + m.uid, borderColor: colour(m.uid, 1),
              backgroundColor: colour(m.uid, 0.2), borderWidth: 1.5, pointRadius: 0,
              data: m.loss_percentiles.map(function (v, p) { return {x: v, y: p / 100}; })};
    });
    new Chart(document.getElementById("chart-loss_cdf"), {
      type: "line", data: {datasets: datasets},
      options: baseOptions(lossScale(all, LOSS_AXIS),
                           {min: 0, max: 1, title: axisTitle("share of series (0 to 1)")})});
  }

  // One series: its context (the last points), its true target, and for each
  // fan model the outer and inner quantile bands and the median.
  function drawFan(series, k) {
    var levels = doc.quantiles, q = levels.length;
    var median = 0;
    levels.forEach(function (l, i) { if (Math.abs(l - 0.5) < Math.abs(levels[median] - 0.5)) median = i; });
    var inner = Math.floor(q / 4);
    var shown = series.context.length;
    var points = function (values, start) {
      return values.map(function (v, t) { return {x: start + t, y: v}; });
    };
    var datasets = [
      {label: "context (last " + shown + " of " + series.context_length + ")", borderColor: "#444",
       backgroundColor: "#444", borderWidth: 1.5, pointRadius: 0,
       data: points(series.context, -shown)},
      {label: "truth", borderColor: "#111", backgroundColor: "#111", borderWidth: 2,
       borderDash: [5, 3], pointRadius: 0, data: points(series.target, 0)}];
    doc.fan_uids.forEach(function (uid) {
      var rows = series.forecasts[String(uid)];
      var level = function (i) { return points(rows.map(function (r) { return r[i]; }), 0); };
      var bound = function (i, fill, alpha) {
        return {label: "uid " + uid + " " + Math.round(levels[i] * 100) + "%", uid: uid,
                bound: true, data: level(i), fill: fill, borderWidth: 0, pointRadius: 0,
                borderColor: colour(uid, alpha), backgroundColor: colour(uid, alpha)};
      };
      datasets.push(bound(0, false, 0.12), bound(q - 1, "-1", 0.12));
      if (inner > 0 && inner < q - 1 - inner) {
        datasets.push(bound(inner, false, 0.25), bound(q - 1 - inner, "-1", 0.25));
      }
      datasets.push({label: "uid " + uid + " median", uid: uid, data: level(median),
                     borderColor: colour(uid, 1), backgroundColor: colour(uid, 1),
                     borderWidth: 1.5, pointRadius: 0});
    });
    var options = baseOptions(
        {type: "linear", min: -shown, max: Math.max(series.target.length - 1, 0),
         title: axisTitle("time step (0 = first forecast step)")},
        {title: axisTitle("value (series units)")});
    // The legend lists the lines; clicking a model's median shows or hides
    // all of that model's datasets.
    if (series.description) options.plugins.subtitle = {display: true, text: series.description};
    options.plugins.legend.labels.filter = function (item, data) {
      return !data.datasets[item.datasetIndex].bound;
    };
    options.plugins.legend.onClick = function (event, item, legend) {
      var chart = legend.chart, clicked = chart.data.datasets[item.datasetIndex];
      var hide = chart.isDatasetVisible(item.datasetIndex);
      chart.data.datasets.forEach(function (d, i) {
        if (d === clicked || (clicked.uid !== undefined && d.uid === clicked.uid)) {
          chart.setDatasetVisibility(i, !hide);
        }
      });
      chart.update();
    };
    new Chart(document.getElementById("chart-fan-" + k),
              {type: "line", data: {datasets: datasets}, options: options});
  }

  function uidList(uids) { return (uids.length === 1 ? "uid " : "uids ") + uids.join(", "); }

  var withCharts = typeof Chart !== "undefined";
  tables(withCharts);
  var summary = doc.models.length + " models, " + scored.length + " scored; " +
                doc.series_count + " series, horizon " + doc.horizon + ", quantile levels " +
                doc.quantiles.join(", ") + ".";
  if (withCharts) {
    drawLossSpread();
    drawLossCdf();
    doc.series.forEach(drawFan);
    summary += (doc.fan_chosen
                    ? " Fan charts: " + uidList(doc.fan_uids) +
                          (doc.fan_unscored.length ? " (not scored, so not drawn: " +
                                                         uidList(doc.fan_unscored) + ")" : "")
                    : " Fan charts: the " + doc.fan_uids.length + " best-ranked scored models" +
                          (doc.fan_uids.length < scored.length ? " of " + scored.length
                                                                   : "")) +
               "; bands from the outer and inner quantile levels, click a model to hide it.";
  } else {
    summary += " Forecast charts need Chart.js.";
  }
  document.getElementById("crucible-summary").textContent = summary;
  document.getElementById("crucible-page").dataset.loaded = "yes";
})();
