// d3's Albers USA as us-atlas drew counties-albers-10m with it (scale 1300, translate [487.5, 305]):
// project(lon, lat) -> [x, y] in the 975 x 610 box, or null outside the three parts; invert([x, y]) ->
// [lon, lat]. locate.js matches a position to a county outline; markers.js draws the outlines on the map.
window.open287gAlbersUsa = window.open287gAlbersUsa || (function () {
  "use strict";
  var RAD = Math.PI / 180, K = 1300, TX = 487.5, TY = 305;

  // One conic equal-area projection (d3.geoConicEqualArea): rotated by rotate degrees of longitude,
  // centred at centre, scale k, translated to tx, ty; with its inverse.
  function part(parallels, rotate, centre, k, tx, ty, extent) {
    var sy0 = Math.sin(parallels[0] * RAD), n = (sy0 + Math.sin(parallels[1] * RAD)) / 2;
    var c = 1 + sy0 * (2 * n - sy0), r0 = Math.sqrt(c) / n;
    function raw(x, y) {
      var r = Math.sqrt(c - 2 * n * Math.sin(y)) / n;
      return [r * Math.sin(x * n), r0 - r * Math.cos(x * n)];
    }
    var origin = raw(centre[0] * RAD, centre[1] * RAD);
    return {
      extent: extent,
      project: function (lon, lat) {
        var lambda = (lon + rotate) * RAD;
        lambda = ((lambda + Math.PI) % (2 * Math.PI) + 2 * Math.PI) % (2 * Math.PI) - Math.PI;
        var p = raw(lambda, lat * RAD);
        return [tx + k * (p[0] - origin[0]), ty - k * (p[1] - origin[1])];
      },
      invert: function (x, y) {
        var px = (x - tx) / k + origin[0], r0y = r0 - ((ty - y) / k + origin[1]);
        var l = Math.atan2(px, Math.abs(r0y)) * Math.sign(r0y);
        if (r0y * n < 0) l -= Math.PI * Math.sign(px) * Math.sign(r0y);
        var phi = Math.asin(Math.max(-1, Math.min(1, (c - (px * px + r0y * r0y) * n * n) / (2 * n))));
        return [l / n / RAD - rotate, phi / RAD];
      }
    };
  }

  // The lower 48, Alaska and Hawaii, each with the extent Albers USA clips it to.
  var lower48 = part([29.5, 45.5], 96, [-0.6, 38.7], K, TX, TY, [TX - 0.455 * K, TY - 0.238 * K, TX + 0.455 * K, TY + 0.238 * K]);
  var alaska = part([55, 65], 154, [-2, 58.5], K * 0.35, TX - 0.307 * K, TY + 0.201 * K, [TX - 0.425 * K, TY + 0.120 * K, TX - 0.214 * K, TY + 0.234 * K]);
  var hawaii = part([8, 18], 157, [-3, 19.9], K, TX - 0.205 * K, TY + 0.212 * K, [TX - 0.214 * K, TY + 0.166 * K, TX - 0.115 * K, TY + 0.234 * K]);

  function inside(p, e) { return p[0] >= e[0] && p[0] <= e[2] && p[1] >= e[1] && p[1] <= e[3]; }

  return {
    // tried in d3's order: the lower 48 first
    project: function (lon, lat) {
      var parts = [lower48, alaska, hawaii];
      for (var i = 0; i < parts.length; i++) {
        var p = parts[i].project(lon, lat);
        if (inside(p, parts[i].extent)) return p;
      }
      return null;
    },
    // the insets' boxes lie inside the lower 48's: a point in one of them is Alaska's or Hawaii's
    invert: function (x, y) {
      var which = inside([x, y], alaska.extent) ? alaska : inside([x, y], hawaii.extent) ? hawaii : lower48;
      return which.invert(x, y);
    }
  };
})();
