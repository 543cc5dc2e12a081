// Camera health charts (the /cameras/<key>/health page): one small uPlot chart per metric,
// drawn from the JSON in #health-data's data-json attribute (hourly aggregates: average line
// with points, min and max dashed, warning thresholds as flat dashed lines). Sized to its
// card, redrawn on resize, so it fits a 360 px phone. Each chart box gets data-points=<n>
// once drawn (0 when the range has no data). No inline script: the page's CSP allows only
// scripts from this origin.
(function () {
  "use strict";
  var HEIGHT = 150;
  var charts = [];

  function css(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (v && v.trim()) || fallback;
  }

  function draw() {
    var holder = document.getElementById("health-data");
    if (!holder || typeof uPlot === "undefined") return;
    var data = JSON.parse(holder.getAttribute("data-json") || "{}");
    var fg = css("--muted", "#888");
    var line = css("--line", "#333");
    var accent = css("--accent", "#4ea1ff");
    var warn = css("--warn", "#f0a202");
    var boxes = document.querySelectorAll("[data-health-chart]");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var metric = box.getAttribute("data-health-chart");
      var s = data.series && data.series[metric];
      if (!s || !s.t || s.t.length === 0) {
        box.setAttribute("data-points", "0");
        box.textContent = "No data in this range yet.";
        continue;
      }
      var series = [
        {},
        { label: "avg", stroke: accent, width: 2, points: { show: true, size: 6, fill: accent } },
        { label: "min", stroke: fg, width: 1, dash: [4, 4], points: { show: false } },
        { label: "max", stroke: fg, width: 1, dash: [4, 4], points: { show: false } },
      ];
      // the range's ends as extra x values (no data there) so threshold lines span the chart
      var x = [data.from / 1000].concat(s.t, [data.to / 1000]);
      var pad = function (col) { return [null].concat(col, [null]); };
      var columns = [x, pad(s.avg), pad(s.min), pad(s.max)];
      var limits = s.limits || [];
      for (var j = 0; j < limits.length; j++) {
        series.push({ label: limits[j].label, stroke: warn, width: 1, dash: [2, 6], points: { show: false } });
        columns.push(x.map(function () { return this.value; }, limits[j]));
      }
      var opts = {
        width: Math.max(200, box.clientWidth),
        height: HEIGHT,
        series: series,
        scales: { x: { time: true, range: [data.from / 1000, data.to / 1000] } },
        axes: [
          { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line } },
          { stroke: fg, size: 48, grid: { stroke: line, width: 1 }, ticks: { stroke: line } },
        ],
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
      };
      box.textContent = "";
      charts.push({ plot: new uPlot(opts, columns, box), box: box });
      box.setAttribute("data-points", String(s.t.length));
    }
  }

  var pending = 0;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      for (var i = 0; i < charts.length; i++) charts[i].plot.setSize({ width: Math.max(200, charts[i].box.clientWidth), height: HEIGHT });
    }, 150);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
