// 287(g) Open Data: one chart above a canned query's table, drawn as SVG from the query's JSON.
// window.OPEN287G_CHART = {mark: "line"|"bar", x, xType: "temporal"|"ordinal", y, color, colours, title, xLabel, yLabel, desc, months, locale,
//   gaps: [[first month or null, last month], ...] where no list of ICE's is readable, gapLabel}
// Bars are stacked by colour (never drawn over each other); months with no row still get a slot.
(function () {
  "use strict";
  var spec = window.OPEN287G_CHART;
  var SVG = "http://www.w3.org/2000/svg";
  var MONTHS = window.OPEN287G_CHART.months;  // in the page's language (open287g/plugins/charts.py)
  var LOCALE = window.OPEN287G_CHART.locale;

  function el(name, attrs, parent, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function monthIndex(month) { return +month.slice(0, 4) * 12 + (+month.slice(5, 7) - 1); }
  function monthName(index) { return MONTHS[index % 12] + " " + Math.floor(index / 12); }

  function niceTicks(max) {
    var step = Math.pow(10, Math.floor(Math.log10(Math.max(max, 1) / 5)));
    [1, 2, 5, 10].some(function (m) { if (max / (step * m) <= 6) { step *= m; return true; } return false; });
    var ticks = [];
    for (var v = 0; v <= max + step * 0.001; v += step) ticks.push(v);
    if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
    return ticks;
  }

  function draw(rows) {
    var series = [], slots = [], values = {};
    rows.forEach(function (r) {
      var s = r[spec.color] || "other", x = String(r[spec.x]);
      if (series.indexOf(s) < 0) series.push(s);
      values[x] = values[x] || {};
      values[x][s] = (values[x][s] || 0) + (+r[spec.y] || 0);
    });
    series.sort(function (a, b) { return Object.keys(spec.colours).indexOf(a) - Object.keys(spec.colours).indexOf(b); });
    if (spec.xType === "temporal") {
      var indexes = Object.keys(values).map(monthIndex);
      for (var i = Math.min.apply(null, indexes); i <= Math.max.apply(null, indexes); i++) {
        slots.push(String(Math.floor(i / 12)) + "-" + ("0" + (i % 12 + 1)).slice(-2));
      }
    } else {
      slots = Object.keys(values).sort();
    }
    var total = function (x) { return series.reduce(function (t, s) { return t + ((values[x] || {})[s] || 0); }, 0); };
    var max = Math.max.apply(null, slots.map(function (x) {
      return spec.mark === "bar" ? total(x) : Math.max.apply(null, series.map(function (s) { return (values[x] || {})[s] || 0; }));
    }));
    var ticks = niceTicks(max), top = ticks[ticks.length - 1];

    var box = document.getElementById("o287g-chart");
    var width = Math.max(600, Math.min(1200, box.clientWidth || 900)), height = 440;
    var m = { left: 70, right: 20, top: 20, bottom: spec.xType === "temporal" ? 70 : 90 };
    var w = width - m.left - m.right, h = height - m.top - m.bottom;
    var svg = el("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-labelledby": "o287g-chart-title o287g-chart-desc" });
    el("title", { id: "o287g-chart-title" }, svg, spec.title);
    el("desc", { id: "o287g-chart-desc" }, svg, spec.desc);
    var plot = el("g", { transform: "translate(" + m.left + "," + m.top + ")" }, svg);
    var band = w / slots.length;
    var xAt = function (i) { return i * band + band / 2; };
    var yAt = function (v) { return h - (v / top) * h; };

    ticks.forEach(function (t) {
      el("line", { x1: 0, x2: w, y1: yAt(t), y2: yAt(t), stroke: t ? "#e3e3e3" : "#555" }, plot);
      el("text", { x: -8, y: yAt(t) + 4, "text-anchor": "end", "font-size": 12, fill: "#333" }, plot, t.toLocaleString(LOCALE));
    });
    el("text", { transform: "translate(" + (-52) + "," + (h / 2) + ") rotate(-90)", "text-anchor": "middle", "font-size": 13, fill: "#222" }, plot, spec.yLabel);
    el("text", { x: w / 2, y: h + m.bottom - 12, "text-anchor": "middle", "font-size": 13, fill: "#222" }, plot, spec.xLabel);

    slots.forEach(function (x, i) {
      var label = null;
      if (spec.xType === "temporal") {
        var idx = monthIndex(x);
        var every = slots.length > 48 ? 12 : slots.length > 18 ? 3 : 1;
        // years far apart on a long axis: a label every so many years, so that each has 40 px of its own
        var years = every === 12 ? Math.max(1, Math.ceil(40 / (band * 12))) : 1;
        if ((idx % (every * years)) === 0) label = every === 12 ? String(Math.floor(idx / 12)) : monthName(idx);
      } else label = x;
      if (label !== null) {
        var tx = xAt(i), ty = h + 14;
        var rotate = spec.xType !== "temporal" || (spec.xType === "temporal" && slots.length <= 48);
        el("text", rotate ? { transform: "translate(" + tx + "," + ty + ") rotate(-60)", "text-anchor": "end", "font-size": 11, fill: "#333" }
                          : { x: tx, y: ty + 4, "text-anchor": "middle", "font-size": 12, fill: "#333" }, plot, label);
      }
    });

    if (spec.mark === "bar") {
      var barWidth = Math.max(1, band * 0.8);
      slots.forEach(function (x, i) {
        var base = 0;
        series.forEach(function (s) {
          var v = (values[x] || {})[s] || 0;
          if (!v) return;
          var rect = el("rect", { x: xAt(i) - barWidth / 2, width: barWidth, y: yAt(base + v), height: yAt(base) - yAt(base + v), fill: spec.colours[s] || "#999", "class": "o287g-bar" }, plot);
          el("title", {}, rect, x + " · " + s + ": " + v.toLocaleString(LOCALE));
          base += v;
        });
      });
    } else {
      // The stretches no list of ICE's is readable (the build's list_gaps table, sent as month pairs by
      // open287g/plugins/charts.py) are shaded, and no line is drawn across one of their edges.
      var first = monthIndex(slots[0]), lastSlot = monthIndex(slots[slots.length - 1]);
      var gaps = (spec.gaps || []).map(function (g) {
        return [g[0] ? monthIndex(g[0]) : -Infinity, monthIndex(g[1])];
      });
      var crosses = function (a, b) {  // a < b, month indexes of two neighbouring points
        return gaps.some(function (g) { return (a <= g[0] && g[0] < b) || (a < g[1] && g[1] <= b); });
      };
      gaps.forEach(function (g, n) {
        var from = Math.max(g[0], first), to = Math.min(g[1], lastSlot);
        if (to <= from) return;
        var x0 = xAt(from - first) + band, x1 = xAt(to - first) - band;
        el("rect", { x: x0, y: 0, width: Math.max(0, x1 - x0), height: h, fill: "#f1f1f1", "class": "o287g-gap" }, plot);
        // narrow neighbouring gaps: labels on alternate lines so they do not overlap
        el("text", { x: (x0 + x1) / 2, y: 16 + (n % 2) * 16, "text-anchor": "middle", "font-size": 12, fill: "#444", "class": "o287g-gap-label" }, plot, spec.gapLabel);
      });
      series.forEach(function (s) {
        var points = [], runs = [[]], prev = null;
        slots.forEach(function (x, i) {
          if (!(values[x] && values[x][s] !== undefined)) return;
          if (prev !== null && crosses(monthIndex(slots[prev]), monthIndex(x))) runs.push([]);
          var p = [xAt(i), yAt(values[x][s]), x, values[x][s]];
          points.push(p);
          runs[runs.length - 1].push(p);
          prev = i;
        });
        runs.forEach(function (run) {
          el("polyline", { points: run.map(function (p) { return p[0] + "," + p[1]; }).join(" "), fill: "none", stroke: spec.colours[s] || "#999", "stroke-width": 3, "class": "o287g-line" }, plot);
        });
        points.forEach(function (p) {
          var dot = el("circle", { cx: p[0], cy: p[1], r: 3, fill: spec.colours[s] || "#999" }, plot);
          el("title", {}, dot, p[2] + " · " + s + ": " + p[3].toLocaleString(LOCALE));
        });
      });
    }

    var legend = document.createElement("p");
    legend.className = "o287g-chart-legend";
    legend.innerHTML = series.map(function (s) {
      return '<span><i style="background:' + (spec.colours[s] || "#999") + '"></i>' + s + (spec.names[s] ? " · " + spec.names[s] : "") + "</span>";
    }).join("");
    box.appendChild(svg);
    box.appendChild(legend);
  }

  var url = location.pathname + ".json" + (location.search ? location.search + "&" : "?") + "_shape=objects&_size=max";
  fetch(url).then(function (r) { return r.json(); }).then(function (data) { draw(data.rows || []); });
})();
