/* Draws every <canvas data-chart="ID"> with Chart.js (vendor/chartjs, served locally).
 * ID names a <script type="application/json"> written by Django's json_script filter:
 * {"type": ..., "data": {"labels": [...], "datasets": [...]}, "options": {...}}.
 * Data only: nothing from the page is evaluated. Runs on a full load and on every Turbo
 * visit (viewflow's pages navigate with Hotwire Turbo). */
(function () {
  "use strict";
  var PALETTE = ["#b71c1c", "#ff8f00", "#1565c0", "#2e7d32", "#6a1b9a", "#00838f", "#5d4037", "#c2185b"];

  function merge(target, source) {
    Object.keys(source || {}).forEach(function (key) {
      var value = source[key];
      if (value && typeof value === "object" && !Array.isArray(value)) {
        target[key] = merge(target[key] && typeof target[key] === "object" ? target[key] : {}, value);
      } else {
        target[key] = value;
      }
    });
    return target;
  }

  function colour(dataset, index, type) {
    var many = type === "doughnut" || type === "pie" || dataset.colourEach;
    if (many) {
      var colours = dataset.data.map(function (_, i) { return PALETTE[i % PALETTE.length]; });
      dataset.backgroundColor = dataset.backgroundColor || colours;
      dataset.borderColor = dataset.borderColor || "#fff";
    } else {
      var base = PALETTE[index % PALETTE.length];
      dataset.borderColor = dataset.borderColor || base;
      dataset.backgroundColor = dataset.backgroundColor || (type === "line" ? base + "33" : base + "cc");
    }
    delete dataset.colourEach;
    return dataset;
  }

  /* Chart.js keeps room left of a bottom axis for its first label's width only, but a
   * rotated label also reaches left by its height: on a 390-px phone the first month
   * ("2025-12") was cut to "025-12". Scale option ``afterFit``: add that height. */
  function roomForFirstLabel(scale) {
    if (!scale.labelRotation || !scale.isHorizontal() || scale.options.position !== "bottom") {
      return;
    }
    var font = window.Chart.helpers.toFont(scale.options.ticks.font);
    scale.paddingLeft += Math.sin(scale.labelRotation * Math.PI / 180) * font.lineHeight;
  }

  function draw(canvas) {
    if (canvas.dataset.drawn === "1" || typeof window.Chart === "undefined") {
      return;
    }
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var type = spec.type || "bar";
    var datasets = (spec.data.datasets || []).map(function (d, i) { return colour(d, i, type); });
    var defaults = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { position: "bottom" } }
    };
    if (type === "line" || type === "bar") {  /* the types with an x axis */
      defaults.scales = { x: { afterFit: roomForFirstLabel } };
    }
    var options = merge(defaults, spec.options);
    var chart = new window.Chart(canvas, {
      type: type,
      data: { labels: spec.data.labels, datasets: datasets },
      options: options
    });
    canvas.dataset.drawn = "1";
    canvas.chart = chart;
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
  if (!window.ptsChartsListening) {
    window.ptsChartsListening = true;
    document.addEventListener("turbo:load", drawAll);
  }
})();
