"use strict";
// The overview's charts: each .chart[data-series] becomes a uPlot bar chart (uPlot is loaded from
// /admin/assets/uplot.js before this file). Without JavaScript the numbers above the charts stay.
(function () {
  if (typeof uPlot === "undefined") return;
  document.querySelectorAll(".chart[data-series]").forEach(function (el) {
    var ys = JSON.parse(el.getAttribute("data-series") || "[]");
    var start = Number(el.getAttribute("data-start")) / 1000;
    var step = Number(el.getAttribute("data-step")) / 1000;
    var xs = ys.map(function (_, i) { return start + i * step; });
    var color = el.getAttribute("data-color") || "#1f5fbf";
    var opts = {
      width: Math.max(240, el.clientWidth),
      height: 160,
      legend: { show: false },
      cursor: { y: false },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [{ space: 60 }, { size: 40 }],
      series: [{}, { label: el.getAttribute("data-label") || "", stroke: color, fill: color, paths: uPlot.paths.bars({ size: [0.9, 100] }), points: { show: false } }],
    };
    el.classList.add("drawn");
    var plot = new uPlot(opts, [xs, ys], el);
    window.addEventListener("resize", function () { plot.setSize({ width: Math.max(240, el.clientWidth), height: 160 }); });
  });
})();
