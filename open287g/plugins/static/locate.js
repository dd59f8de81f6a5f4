// "Use my location": the browser's position is projected as the site's county outlines are (us-atlas
// counties-albers-10m: d3's Albers USA, in albers-usa.js) and matched to a county
// outline here, in the page. Only the county's page is then asked for: the position never leaves the browser.
(function () {
  // albers-usa.js, served with this file at /locate.js
  var project = window.open287gAlbersUsa.project;

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
          // the county's page in the page's own language (/es/... for a Spanish page)
          window.location.href = (/^\/es(\/|$)/.test(window.location.pathname) ? "/es" : "") + "/287g/counties/" + s.fips + "?located=1";
        }, function () { status.textContent = status.dataset.failed; });
      }, function () { status.textContent = status.dataset.denied; }, {timeout: 15000, maximumAge: 600000});
    });
  });
})();
