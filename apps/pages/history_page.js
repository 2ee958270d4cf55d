// Draws a validator's history (the series document of /history.json, see
// include/crucible/validator/step_history.h) with Chart.js, or as tables when
// Chart.js is missing. The page says which in #crucible-note.
//   data-mode="report": the document is inlined in #crucible-history;
//   data-mode="live":   it is fetched from /history.json every few seconds.
// Bounds keep a page of 10,000 steps responsive: each line draws at most
// MAX_POINTS points (older ones thinned evenly, the last kept) and at most
// MAX_LINES uids (those with the highest last EMA; the note says so).
(function () {
  "use strict";
  var MAX_POINTS = 600;
  var MAX_LINES = 24;
  var REFRESH_MS = 5000;
  var page = document.getElementById("crucible-page");
  var charts = {};

  var colour = crucible.colour;
  var REASON_COLOURS = ["#c0392b", "#e67e22", "#8e44ad", "#2c3e50", "#16a085", "#7f8c8d",
                        "#d35400", "#27ae60", "#2980b9", "#f39c12"];

  // Indexes of at most MAX_POINTS of n points, evenly spread, the last included.
  function thinned(n) {
    var every = Math.max(1, Math.ceil(n / MAX_POINTS));
    var picked = [];
    for (var i = 0; i < n; i += every) picked.push(i);
    if (n > 0 && picked[picked.length - 1] !== n - 1) picked.push(n - 1);
    return picked;
  }
  function pick(values, idx) {
    return idx.map(function (i) { return values && i < values.length ? values[i] : null; });
  }
  function lastValue(values) {
    for (var i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  }
  // The uids drawn on per-uid charts: all, or the MAX_LINES with the highest last EMA.
  function drawnUids(doc) {
    var uids = doc.uids.slice();
    if (uids.length <= MAX_LINES) return uids;
    uids.sort(function (a, b) {
      var ea = lastValue(doc.series[a].ema), eb = lastValue(doc.series[b].ema);
      return (eb === null ? -1 : eb) - (ea === null ? -1 : ea) || a - b;
    });
    return uids.slice(0, MAX_LINES).sort(function (a, b) { return a - b; });
  }

  function perUid(doc, idx, uids, field) {
    return uids.map(function (uid) {
      return {label: "uid " + uid, data: pick(doc.series[uid][field], idx),
              borderColor: colour(uid, 1), backgroundColor: colour(uid, 0.2),
              borderWidth: 1.5, pointRadius: 0, spanGaps: false};
    });
  }
  function single(label, values, idx, uid) {
    return [{label: label, data: pick(values, idx), borderColor: colour(uid, 1),
             backgroundColor: colour(uid, 0.2), borderWidth: 1.5, pointRadius: 0}];
  }

  // Each chart: its canvas id, what its datasets are, its axes.
  var SPECS = [
    {id: "ema", y: "EMA of the composite score (0 to 1)",
     data: function (d, i, u) { return perUid(d, i, u, "ema"); }},
    {id: "weight", y: "weight in the competition (0 to 1)",
     data: function (d, i, u) { return perUid(d, i, u, "weight"); }},
    {id: "mean_loss", y: "mean CRPS per series (target units)",
     data: function (d, i, u) { return perUid(d, i, u, "mean_loss"); }},
    {id: "composite", y: "composite score (0 to 1)",
     data: function (d, i, u) { return perUid(d, i, u, "composite"); }},
    {id: "seconds", y: "step duration (seconds)",
     data: function (d, i) { return single("seconds", d.seconds, i, 3); }},
    {id: "queues", y: "models queued",
     data: function (d, i) {
       return single("pending", d.pending, i, 5).concat(single("active", d.active, i, 11));
     }},
    {id: "failures", y: "models not scored", type: "bar", stacked: true,
     data: function (d, i) {
       return Object.keys(d.failures).sort().map(function (reason, k) {
         var c = REASON_COLOURS[k % REASON_COLOURS.length];
         return {label: reason, data: pick(d.failures[reason], i), backgroundColor: c,
                 borderColor: c};
       });
     }},
  ];

  var axisTitle = crucible.axisTitle;
  function options(spec, xTitle) {
    return {
      animation: false, responsive: true, maintainAspectRatio: false, normalized: true,
      interaction: {mode: "nearest", intersect: false},
      plugins: {legend: {display: true, position: "right", labels: {boxWidth: 12}}},
      scales: {x: {title: axisTitle(xTitle), stacked: !!spec.stacked},
               y: {title: axisTitle(spec.y), stacked: !!spec.stacked}}
    };
  }
  function draw(id, type, labels, datasets, opts) {
    if (charts[id]) {
      charts[id].data.labels = labels;
      charts[id].data.datasets = datasets;
      charts[id].update("none");
      return;
    }
    charts[id] = new Chart(document.getElementById("chart-" + id),
                           {type: type, data: {labels: labels, datasets: datasets},
                            options: opts});
  }

  function drawCharts(doc) {
    var idx = thinned(doc.steps.length);
    var labels = pick(doc.steps, idx);
    var uids = drawnUids(doc);
    SPECS.forEach(function (spec) {
      draw(spec.id, spec.type || "line", labels, spec.data(doc, idx, uids), options(spec, "step"));
    });
    var weights = doc.current_weights || [];
    var weightUids = weights.map(function (_, uid) { return uid; });
    draw("current_weights", "bar", weightUids.map(String),
         [{label: "subnet weight", data: weights,
           backgroundColor: weightUids.map(function (u) { return colour(u, 0.7); }),
           borderColor: weightUids.map(function (u) { return colour(u, 1); })}],
         options({y: "subnet weight (0 to 1)"}, "uid"));
    return uids.length < doc.uids.length
        ? "Per-uid charts show the " + uids.length + " uids with the highest EMA, of " +
              doc.uids.length + "."
        : "";
  }

  // Without Chart.js: the last step per uid, and the last 50 steps.
  function drawTables(doc) {
    var n = doc.steps.length;
    var uidRows = doc.uids.map(function (uid) {
      var s = doc.series[uid];
      return [uid, s.hotkey, s.ema[n - 1], s.weight[n - 1], s.mean_loss[n - 1], s.composite[n - 1]];
    });
    var stepRows = [];
    for (var i = n - 1; i >= Math.max(0, n - 50); i--) {
      stepRows.push([doc.steps[i], doc.blocks[i], doc.seconds[i], doc.pending[i], doc.active[i]]);
    }
    document.getElementById("crucible-tables").innerHTML =
        crucible.table("Last step, per uid", ["uid", "hotkey", "EMA", "weight", "mean loss", "composite"],
              uidRows) +
        crucible.table("Last steps", ["step", "block", "seconds", "pending", "active"], stepRows);
  }

  function render(doc) {
    var n = doc.steps.length;
    var summary = n === 0 ? "No step recorded yet."
                          : n + " steps shown, " + doc.steps[0] + " to " + doc.steps[n - 1] +
                                ", block " + doc.blocks[n - 1] + ".";
    var extra = typeof Chart === "undefined" ? (drawTables(doc), "") : drawCharts(doc);
    document.getElementById("crucible-summary").textContent = summary + " " + extra;
  }

  if (page.dataset.mode === "live") {
    var status = document.getElementById("crucible-status");
    var refresh = function () {
      fetch("/history.json?steps=" + page.dataset.steps, {cache: "no-store"})
          .then(function (r) {
            if (!r.ok) throw new Error("HTTP " + r.status);
            return r.json();
          })
          .then(function (doc) {
            render(doc);
            status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
            page.dataset.loaded = "yes";
          })
          .catch(function (e) { status.textContent = "Cannot reach the validator: " + e.message; });
    };
    refresh();
    setInterval(refresh, REFRESH_MS);
  } else {
    render(JSON.parse(document.getElementById("crucible-history").textContent));
    page.dataset.loaded = "yes";
  }
})();
