// Draws the page of `crucible eval --report` from the document inlined in
// #crucible-eval (apps/eval_report.cpp builds it): the ranked table with the
// parts of each composite, the loss by series kind, each model's per-series
// loss distribution, its loss by horizon step, and fan charts of the drawn
// models (--mine's first) against each chosen series' context and truth.
// Colours come with the data (model_colours: --mine's is fixed, the others
// follow the rank). Without Chart.js it shows the tables only;
// #crucible-note says why.
(function () {
  "use strict";
  var doc = JSON.parse(document.getElementById("crucible-eval").textContent);
  var axisTitle = crucible.axisTitle, cell = crucible.cell;
  var LOSS_AXIS = doc.metric + " per series (target units)";
  var scored = doc.models.filter(function (m) { return m.loss_percentiles.length > 0; });
  var byUid = {};
  doc.models.forEach(function (m) { byUid[m.uid] = m; });

  // "#rrggbb" with an alpha, as rgba().
  function colour(uid, alpha) {
    var hex = byUid[uid].colour;
    var channel = function (at) { return parseInt(hex.substr(at, 2), 16); };
    return "rgba(" + channel(1) + ", " + channel(3) + ", " + channel(5) + ", " + alpha + ")";
  }
  function isMine(uid) { return uid === doc.mine; }
  // A chart label: short, so a legend never cuts it.
  function label(uid) { return "uid " + uid + (isMine(uid) ? " (mine)" : ""); }
  function escaped(text) { return cell(String(text)); }
  // A table's model name, --mine's marked (kept on one line).
  function shownName(m) { return m.name + (m.mine ? "\u00a0\u2190\u00a0mine" : ""); }

  function percentileRows() {
    return scored.map(function (m) {
      var p = m.loss_percentiles;
      return [m.uid, m.name, m.finite_series, p[0], p[10], p[25], p[50], p[75], p[90], p[100]];
    });
  }
  function rankingTable() {
    var rows = doc.models.map(function (m) {
      return [m.rank, m.uid, shownName(m), m.status, m.mean_loss,
              m.ci_lo, m.ci_hi, m.gap, m.sep, m.win_rate, m.composite, m.weight, m.seconds,
              m.reason];
    });
    var html = crucible.table(
        "Ranking (weight*: the softmax of this round's composites alone)",
        ["rank", "uid", "model", "status", "mean loss", "CI low", "CI high", "gap", "sep",
         "win rate", "composite", "weight*", "seconds", "reason"], rows,
        function (i) { return doc.models[i].mine ? "mine" : ""; });
    html += "<p class=\"explain\" id=\"composite-explained\">composite = win rate \u00d7 sep. " +
            "<b>win rate</b>: per series, the share of the other models with a higher loss, " +
            "averaged over the series. <b>CI low / CI high</b>: the 95% bootstrap interval of " +
            "the mean loss (seeded, the same on every validator). <b>gap</b>: the mean over the " +
            "other models of (this model's CI high \u2212 their CI low); lower is better. " +
            "<b>sep</b>: the gaps rescaled to 1 for the lowest and 0 for the highest. So a low " +
            "mean loss with a wide interval (a few series with a high loss) gets a high gap, a " +
            "low sep and a low composite. docs/scoring.md section 4." +
            (doc.task_count > 1 ? " Here mean loss, win rate and composite combine the " +
                                  doc.task_count + " tasks by weight; CI, gap and sep are the " +
                                  "first task's (Scores per task has each task's)." : "") +
            "</p>";
    doc.notes.forEach(function (note) {
      html += "<p class=\"note\">" + escaped(note) + "</p>";
    });
    return html;
  }
  // With several tasks: each model's scores on each (the table above is the
  // first task's interval, gap and separation, and the weighted combination).
  function taskTable() {
    var rows = [];
    doc.models.forEach(function (m) {
      (m.tasks || []).forEach(function (t) {
        rows.push([m.uid, m.name, t.name, t.weight, t.mean_loss, t.ci_lo, t.ci_hi, t.gap, t.sep,
                   t.win_rate, t.composite]);
      });
    });
    if (!rows.length) return "";
    return crucible.table("Scores per task", ["uid", "model", "task", "task weight", "mean loss",
                                              "CI low", "CI high", "gap", "sep", "win rate",
                                              "composite"], rows);
  }
  // Models x kinds: the mean loss of each kind's series, the cell's shade
  // from the kind's lowest (green) to its highest (red) loss, and the model's
  // rank among the scored models on that kind.
  function kindTable() {
    var kinds = doc.kinds;
    var ranks = kinds.map(function (kind, k) {
      var values = scored.map(function (m) { return m.loss_by_kind[k]; })
                         .filter(function (v) { return v !== null; });
      values.sort(function (a, b) { return a - b; });
      return values;
    });
    var html = "<h2>Loss by series kind (mean " + escaped(doc.metric) + " of the kind's series; " +
               "#: rank on that kind" + (doc.task_count > 1 ? "; task " + escaped(doc.task) : "") +
               ")</h2><table id=\"loss-by-kind\"><tr><th>uid</th>" +
               "<th>model</th>";
    kinds.forEach(function (kind) {
      html += "<th>" + escaped(kind.kind) + "<br><small>" + kind.series + " series</small></th>";
    });
    html += "</tr>";
    scored.forEach(function (m) {
      html += (m.mine ? "<tr class=\"mine\">" : "<tr>") + "<td>" + m.uid + "</td>" +
              "<td class=\"text\">" + escaped(shownName(m)) + "</td>";
      kinds.forEach(function (kind, k) {
        var v = m.loss_by_kind[k], sorted = ranks[k];
        if (v === null) {
          html += "<td class=\"heat\">-</td>";
          return;
        }
        var low = sorted[0], high = sorted[sorted.length - 1];
        var t = high > low ? (v - low) / (high - low) : 0;
        var rank = sorted.indexOf(v) + 1;
        html += "<td class=\"heat\" data-value=\"" + v + "\" style=\"background: hsl(" +
                (125 - 125 * t).toFixed(0) + ", 60%, 86%)\" title=\"rank " + rank + " of " +
                sorted.length + " on " + escaped(kind.kind) + "\">" + cell(v) + " <small>#" +
                rank + "</small></td>";
      });
      html += "</tr>";
    });
    return html + "</table>";
  }
  function tables(withCharts) {
    var html = rankingTable() + taskTable() + kindTable();
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
  // Legends above the plot: their rows wrap, so no label is cut.
  function baseOptions(x, y) {
    return {animation: false, responsive: true, maintainAspectRatio: false,
            plugins: {legend: {position: "top", labels: {boxWidth: 12, padding: 8}}},
            scales: {x: x, y: y}};
  }

  // Floating bars: 10-90% and 25-75% of the series' losses, median marked.
  function drawLossSpread() {
    var labels = scored.map(function (m) { return label(m.uid); });
    var band = function (lo, hi, alpha, name) {
      return {label: name, grouped: false, borderWidth: 1,
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

  // One line per model, --mine's thicker and drawn on top (Chart.js draws
  // the first dataset last).
  function modelLine(uid, data) {
    return {label: label(uid), uid: uid, borderColor: colour(uid, 1),
            backgroundColor: colour(uid, 0.2), borderWidth: isMine(uid) ? 3 : 1.5,
            pointRadius: 0, data: data};
  }
  function mineFirst(models) {
    return models.filter(function (m) { return m.mine; })
                 .concat(models.filter(function (m) { return !m.mine; }));
  }

  // The empirical distribution function: share of series with a loss below x.
  function drawLossCdf() {
    var all = [];
    var datasets = mineFirst(scored).map(function (m) {
      all.push(m.loss_percentiles[0], m.loss_percentiles[100]);
      return modelLine(m.uid, m.loss_percentiles.map(function (v, p) {
        return {x: v, y: p / 100};
      }));
    });
    new Chart(document.getElementById("chart-loss_cdf"), {
      type: "line", data: {datasets: datasets},
      options: baseOptions(lossScale(all, LOSS_AXIS),
                           {min: 0, max: 1, title: axisTitle("share of series (0 to 1)")})});
  }

  // Per horizon step, the mean over the series reaching it of the step's loss.
  function drawLossByStep() {
    var all = [];
    var datasets = doc.step_uids.map(function (uid) {
      return modelLine(uid, byUid[uid].loss_by_step.map(function (v, t) {
        if (v !== null) all.push(v);
        return {x: t + 1, y: v};
      }));
    });
    var options = baseOptions(
        {type: "linear", min: 1, max: Math.max(doc.horizon, 1),
         title: axisTitle("horizon step (1 = first forecast step)")},
        lossScale(all, doc.metric + " at the step, mean over series"));
    options.plugins.tooltip = {callbacks: {footer: function (items) {
      var t = items.length ? items[0].parsed.x : 0;
      return doc.step_series[t - 1] + " series reach step " + t;
    }}};
    new Chart(document.getElementById("chart-loss_by_step"),
              {type: "line", data: {datasets: datasets}, options: options});
  }

  // The outermost quantile levels and the one nearest 0.5.
  function fanLevels() {
    var levels = doc.quantiles, median = 0;
    levels.forEach(function (l, i) {
      if (Math.abs(l - 0.5) < Math.abs(levels[median] - 0.5)) median = i;
    });
    return {low: 0, high: levels.length - 1, median: median};
  }

  // The fan model whose band is dark: --mine's when drawn, else the best.
  function highlighted() {
    return doc.fan_uids.indexOf(doc.mine) >= 0 ? doc.mine : doc.fan_uids[0];
  }

  // One series: its context (the last points), its true target, and for each
  // fan model the band between the outermost quantile levels (light; the
  // highlighted model's darker) and the median (its line thicker). The
  // series' kind and description go under the chart, where they wrap.
  function drawFan(series, k) {
    var at = fanLevels();
    var shown = series.context.length;
    var points = function (values, start) {
      return values.map(function (v, t) { return {x: start + t, y: v}; });
    };
    var datasets = [
      {label: "context", borderColor: "#444", backgroundColor: "#444", borderWidth: 1.5,
       pointRadius: 0, data: points(series.context, -shown)},
      {label: "truth", borderColor: "#111", backgroundColor: "#111", borderWidth: 2,
       borderDash: [5, 3], pointRadius: 0, data: points(series.target, 0)}];
    doc.fan_uids.forEach(function (uid) {
      var rows = series.forecasts[String(uid)];
      var level = function (i) { return points(rows.map(function (r) { return r[i]; }), 0); };
      var fill = colour(uid, uid === highlighted() ? 0.22 : 0.07);
      var median = modelLine(uid, level(at.median));
      median.borderWidth = uid === highlighted() ? 2.5 : 1.25;
      datasets.push(
          {label: label(uid) + " low", uid: uid, bound: true, data: level(at.low), fill: false,
           borderWidth: 0, pointRadius: 0, borderColor: fill, backgroundColor: fill},
          {label: label(uid) + " high", uid: uid, bound: true, data: level(at.high), fill: "-1",
           borderWidth: 0, pointRadius: 0, borderColor: fill, backgroundColor: fill},
          median);
    });
    var options = baseOptions(
        {type: "linear", min: -shown, max: Math.max(series.target.length - 1, 0),
         title: axisTitle("time step (0 = first forecast step); context: the last " + shown +
                          " of " + series.context_length + " points")},
        {title: axisTitle("value (series units)")});
    // The legend lists the lines; clicking a model shows or hides its band too.
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
    var canvas = document.getElementById("chart-fan-" + k);
    new Chart(canvas, {type: "line", data: {datasets: datasets}, options: options});
    var caption = document.createElement("p");
    caption.className = "caption";
    caption.textContent = "kind: " + series.kind +
                          (series.description ? "; " + series.description : "");
    canvas.closest(".chart").appendChild(caption);
  }

  function uidList(uids) { return (uids.length === 1 ? "uid " : "uids ") + uids.join(", "); }
  function fanSummary() {
    var at = fanLevels(), levels = doc.quantiles;
    var drawn = doc.fan_chosen ? uidList(doc.fan_uids)
        : doc.mine !== null && doc.fan_uids[0] === doc.mine
            ? "uid " + doc.mine + " (mine) and the " + (doc.fan_uids.length - 1) +
                  " best-ranked other scored model" + (doc.fan_uids.length === 2 ? "" : "s")
            : "the " + doc.fan_uids.length + " best-ranked scored model" +
                  (doc.fan_uids.length === 1 ? "" : "s") +
                  (doc.fan_uids.length < scored.length ? " of " + scored.length : "");
    var unscored = doc.fan_unscored.length
        ? " (not scored, so not drawn: " + uidList(doc.fan_unscored) + ")" : "";
    if (!doc.fan_uids.length) return " Fan charts: no scored model to draw" + unscored + ".";
    return " Fan charts: " + drawn + unscored + "; each model's " +
           Math.round(levels[at.median] * 100) + "% quantile as a line, shaded from its " +
           Math.round(levels[at.low] * 100) + "% to its " + Math.round(levels[at.high] * 100) +
           "% quantile (darker: uid " + highlighted() + "); click a model to hide it.";
  }

  var withCharts = typeof Chart !== "undefined";
  tables(withCharts);
  var summary = doc.models.length + " model" + (doc.models.length === 1 ? "" : "s") + ", " +
                scored.length + " scored; " + doc.series_count + " series, horizon " +
                doc.horizon + ", quantile levels " + doc.quantiles.join(", ") + "." +
                (doc.task_count > 1 ? " " + doc.task_count + " tasks: the ranking combines " +
                                      "them; everything else shows the first, " + doc.task + "."
                                    : "") +
                (doc.mine !== null ? " Mine: uid " + doc.mine + ", marked in red." : "");
  if (withCharts) {
    drawLossSpread();
    drawLossCdf();
    drawLossByStep();
    doc.series.forEach(drawFan);
    summary += fanSummary();
  } else {
    summary += " The charts (loss by horizon step, forecasts) need Chart.js.";
  }
  document.getElementById("crucible-summary").textContent = summary;
  document.getElementById("crucible-page").dataset.loaded = "yes";
})();
