// Draws a validator's history (the series document of /history.json, see
// include/crucible/validator/step_history.h) with Chart.js, or as tables when
// Chart.js is missing. The page says which in #crucible-note. Either way a
// table lists every miner of the last step with its status and reason.
//   data-mode="report": the document is inlined in #crucible-history;
//   data-mode="live":   it is fetched from /history.json every few seconds,
//                       and /status fills the health strip (#crucible-health).
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

  // The x labels: each step's wall time (local) when every step has one,
  // else the step numbers.
  function xAxis(doc, idx) {
    var times = doc.times || [];
    var timed = times.length === doc.steps.length && times.every(function (t) { return t !== null; });
    if (!timed) return {title: "step", labels: pick(doc.steps, idx)};
    return {title: "time (local), one point per step",
            labels: idx.map(function (i) { return new Date(times[i] * 1000).toLocaleTimeString(); })};
  }

  function drawCharts(doc) {
    var idx = thinned(doc.steps.length);
    var x = xAxis(doc, idx);
    var uids = drawnUids(doc);
    SPECS.forEach(function (spec) {
      draw(spec.id, spec.type || "line", x.labels, spec.data(doc, idx, uids), options(spec, x.title));
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

  // Every miner of the last step: failing ones (any status but ok and
  // waiting) first and marked, then by uid.
  var QUIET = {ok: true, waiting: true};
  function minersTable(doc) {
    var miners = (doc.miners || []).slice().sort(function (a, b) {
      return (QUIET[a.status] ? 1 : 0) - (QUIET[b.status] ? 1 : 0) || a.uid - b.uid;
    });
    var failing = miners.filter(function (m) { return !QUIET[m.status]; }).length;
    var title = "Miners at the last step: " + miners.length + ", " + failing + " not scored";
    return crucible.table(title, ["uid", "hotkey", "model", "status", "reason", "EMA", "weight"],
                          miners.map(function (m) {
                            return [m.uid, m.hotkey, m.model, m.status, m.reason, m.ema, m.weight];
                          }),
                          function (i) { return QUIET[miners[i].status] ? "" : "failing"; });
  }

  // Without Chart.js: the last 50 steps.
  function stepsTable(doc) {
    var n = doc.steps.length;
    var stepRows = [];
    for (var i = n - 1; i >= Math.max(0, n - 50); i--) {
      var when = doc.times && doc.times[i] ? new Date(doc.times[i] * 1000).toLocaleString() : "-";
      stepRows.push([doc.steps[i], when, doc.blocks[i], doc.seconds[i], doc.pending[i], doc.active[i]]);
    }
    return crucible.table("Last steps", ["step", "time", "block", "seconds", "pending", "active"],
                          stepRows);
  }

  // "12 s", "4.2 min", "3.1 h" ago.
  function age(seconds) {
    if (seconds < 120) return Math.round(seconds) + " s";
    if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }
  function item(kind, title, text) {
    return "<div class=\"health-item health-" + kind + "\"><b>" + crucible.cell(title) + "</b>" +
           crucible.cell(text) + "</div>";
  }
  // The health strip from /status (ValidatorMetrics::status_json).
  function drawHealth(st) {
    var now = st.time;
    var w = st.weights;
    var html = item(st.healthy ? "ok" : "bad", "health",
                    st.healthy ? "healthy" : "unhealthy: " + st.problems.join("; "));
    html += item(st.last_step_time === null ? "warn" : "ok", "last step",
                 st.last_step_time === null ? "none yet"
                     : age(now - st.last_step_time) + " ago (step " + st.step + ", block " +
                           st.block + ", " + st.step_seconds.toFixed(1) + " s)");
    html += item(st.chain.stale ? "bad" : "ok", "chain data age",
                 age(st.chain.age_seconds) + (st.chain.stale ? " (stale: " + st.chain.cause + ")"
                     : " (stale after " + age(st.chain.stale_after_seconds) + ")") +
                     (st.chain.last_error ? "; last read error: " + st.chain.last_error : ""));
    var submitted = w.submitted_time === null ? "none reported"
        : "block " + w.submitted_block + ", " + age(now - w.submitted_time) + " ago";
    var latest = w.status === null ? "no weights written yet"
        : w.status === "" ? "latest weights not yet picked up by the bridge"
        : "latest weights: " + w.status + (w.message ? " (" + w.message + ")" : "");
    html += item(w.status === "submitted" ? "ok" : w.status === "failed" ? "bad" : "warn",
                 "weights on chain", "last submitted: " + submitted + "; " + latest);
    if (st.bridge) {
      html += item(st.bridge.sync_failures > 0 || st.bridge.submission_failures > 0 ? "warn" : "ok",
                   "bridge", "reported " + age(now - st.bridge.time) + " ago; " +
                       st.bridge.sync_failures + " sync and " + st.bridge.submission_failures +
                       " submission failures in a row" +
                       (st.bridge.last_sync_error ? "; " + st.bridge.last_sync_error : ""));
    } else {
      html += item("warn", "bridge", "no bridge.json in the chain folder");
    }
    document.getElementById("crucible-health").innerHTML = html;
  }

  function render(doc) {
    var n = doc.steps.length;
    var summary = n === 0 ? "No step recorded yet."
                          : n + " steps shown, " + doc.steps[0] + " to " + doc.steps[n - 1] +
                                ", block " + doc.blocks[n - 1] + ".";
    var charted = typeof Chart !== "undefined";
    var extra = charted ? drawCharts(doc) : "";
    document.getElementById("crucible-tables").innerHTML =
        minersTable(doc) + (charted ? "" : stepsTable(doc));
    document.getElementById("crucible-summary").textContent = summary + " " + extra;
  }

  if (page.dataset.mode === "live") {
    var status = document.getElementById("crucible-status");
    var json = function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    };
    var refresh = function () {
      fetch("/status", {cache: "no-store"}).then(json).then(drawHealth).catch(function (e) {
        document.getElementById("crucible-health").innerHTML =
            item("bad", "health", "cannot reach the validator: " + e.message);
      });
      fetch("/history.json?steps=" + page.dataset.steps, {cache: "no-store"})
          .then(json)
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
