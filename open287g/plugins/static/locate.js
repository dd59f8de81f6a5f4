// "Use my location": the browser's position is projected as the site's county outlines are (us-atlas
// counties-albers-10m: d3's Albers USA, scale 1300, translate [487.5, 305]) and matched to a county
// outline here, in the page. Only the county's page is then asked for: the position never leaves the browser.
(function () {
  var RAD = Math.PI / 180, K = 1300, TX = 487.5, TY = 305;

  function conic(parallel0, parallel1) {
    var sy0 = Math.sin(parallel0 * RAD), n = (sy0 + Math.sin(parallel1 * RAD)) / 2;
    var c = 1 + sy0 * (2 * n - sy0), r0 = Math.sqrt(c) / n;
    return function (x, y) {
      var r = Math.sqrt(c - 2 * n * Math.sin(y)) / n;
      return [r * Math.sin(x * n), r0 - r * Math.cos(x * n)];
    };
  }

  // One conic equal-area projection: rotated by rotate degrees of longitude, centre (raw) at centre.
  function projection(parallels, rotate, centre, k, tx, ty) {
    var raw = conic(parallels[0], parallels[1]), c = raw(centre[0] * RAD, centre[1] * RAD);
    return function (lon, lat) {
      var lambda = (lon + rotate) * RAD;
      lambda = ((lambda + Math.PI) % (2 * Math.PI) + 2 * Math.PI) % (2 * Math.PI) - Math.PI;
      var p = raw(lambda, lat * RAD);
      return [tx + k * (p[0] - c[0]), ty - k * (p[1] - c[1])];
    };
  }

  // The lower 48, Alaska and Hawaii, each with the extent Albers USA clips it to, tried in that order.
  var parts = [
    [projection([29.5, 45.5], 96, [-0.6, 38.7], K, TX, TY), [TX - 0.455 * K, TY - 0.238 * K, TX + 0.455 * K, TY + 0.238 * K]],
    [projection([55, 65], 154, [-2, 58.5], K * 0.35, TX - 0.307 * K, TY + 0.201 * K), [TX - 0.425 * K, TY + 0.120 * K, TX - 0.214 * K, TY + 0.234 * K]],
    [projection([8, 18], 157, [-3, 19.9], K, TX - 0.205 * K, TY + 0.212 * K), [TX - 0.214 * K, TY + 0.166 * K, TX - 0.115 * K, TY + 0.234 * K]]
  ];

  function project(lon, lat) {
    for (var i = 0; i < parts.length; i++) {
      var p = parts[i][0](lon, lat), e = parts[i][1];
      if (p[0] >= e[0] && p[0] <= e[2] && p[1] >= e[1] && p[1] <= e[3]) return p;
    }
    return null;
  }

  function county(shapes, p) {
    var ctx = document.createElement("canvas").getContext("2d");
    for (var i = 0; i < shapes.length; i++) {
      var s = shapes[i], b = s.b;
      if (p[0] < b[0] || p[0] > b[2] || p[1] < b[1] || p[1] > b[3]) continue;
      if (ctx.isPointInPath(new Path2D(s.path), p[0], p[1])) return s;
    }
    return null;
  }

  window.OPEN287G_PROJECT = project;

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("use-location"), status = document.getElementById("location-status");
    if (!button || !status) return;
    if (!navigator.geolocation) { button.hidden = true; return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = status.dataset.asking;
      navigator.geolocation.getCurrentPosition(function (pos) {
        var p = project(pos.coords.longitude, pos.coords.latitude);
        if (!p) { status.textContent = status.dataset.outside; return; }
        fetch("/county-shapes.json").then(function (r) { return r.json(); }).then(function (shapes) {
          var s = county(shapes, p);
          if (!s) { status.textContent = status.dataset.outside; return; }
          status.textContent = status.dataset.found.replace("{county}", s.name);
          window.location.href = "/287g/counties/" + s.fips + "?located=1";
        }, function () { status.textContent = status.dataset.failed; });
      }, function () { status.textContent = status.dataset.denied; }, {timeout: 15000, maximumAge: 600000});
    });
  });
})();
