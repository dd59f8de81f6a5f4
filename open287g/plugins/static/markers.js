// 287(g) Open Data: colour datasette-cluster-map markers by model, grey out ended agreements, draw
// the state outlines shipped with the site, open on the 48 contiguous states.
// Loaded inline before the page's DOMContentLoaded, so it can wrap Leaflet (window.L) and
// Leaflet.markercluster (L.markerClusterGroup) the moment datasette-cluster-map loads them.
(function () {
  "use strict";
  if (window.__open287gMarkers) return;
  window.__open287gMarkers = true;

  // colours, model names and the outlines' address come from open287g/plugins/markers.py (palette.py)
  var SETTINGS = window.OPEN287G_MAP;
  var COLOURS = SETTINGS.colours;
  var MODELS = ["JEM", "WSO", "TFM"];
  var MODEL_NAMES = SETTINGS.modelNames;
  // the page's words (open287g/plugins/markers.py, from the catalogue of the page's language)
  var WORDS = SETTINGS.words;
  // [[south, west], [north, east]]
  var CONTIGUOUS = [[24.4, -124.8], [49.4, -66.9]];
  var REGIONS = [
    [WORDS.regions[0], CONTIGUOUS],
    [WORDS.regions[1], [[51.2, -179.5], [71.5, -129.9]]],
    [WORDS.regions[2], [[18.8, -160.3], [22.3, -154.7]]],
    [WORDS.regions[3], [[17.6, -67.4], [18.6, -64.5]]],
    [WORDS.regions[4], [[13.2, 144.6], [20.6, 146.1]]]
  ];
  var ONLY_MODELS = /^(JEM|WSO|TFM)(\s*[,+]\s*(JEM|WSO|TFM))*$/;
  var STATUS = /^(active|ended|superseded|pending)/i;

  var css = [
    ".o287g-marker { background: none; border: none; }",
    ".o287g-dot { display: block; width: 100%; height: 100%; box-sizing: border-box; border-radius: 50%;",
    "  border: 2px solid #fff; box-shadow: 0 0 2px rgba(0,0,0,.7); }",
    ".o287g-dot.o287g-ended { background-color: #fff; border: 3px solid " + COLOURS.ended + "; box-shadow: none; }",
    ".o287g-dot.o287g-pending { background: rgba(255,255,255,.85) !important; border: 2px dashed #555; box-shadow: none; }",
    ".marker-cluster.o287g-cluster { background: none; }",
    ".marker-cluster.o287g-cluster div.o287g-pie { width: 100%; height: 100%; margin: 0; border-radius: 50%;",
    "  box-shadow: 0 0 3px rgba(0,0,0,.6); display: flex; align-items: center; justify-content: center; }",
    ".marker-cluster.o287g-cluster span { display: block; background: #fff; border-radius: 50%; line-height: normal;",
    "  width: 58%; height: 58%; display: flex; align-items: center; justify-content: center; font: bold 11px sans-serif; color: #222; }",
    ".o287g-legend { display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 6px 0; font: 14px/1.5 sans-serif; color: #222; }",
    "#o287g-map .leaflet-container { height: clamp(320px, 65vw, 500px) !important; }",
    ".o287g-map-tools { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; padding: 6px 0 0; font: 14px/1.5 sans-serif; color: #222; }",
    ".o287g-regions button { margin: 2px 4px 2px 0; font: 13px sans-serif; background: #fff; color: #1d4e6e; border: 1px solid #1d4e6e; border-radius: 3px; padding: 3px 8px; cursor: pointer; }",
    ".o287g-layers label { display: inline-block; margin-right: 12px; }",
    ".o287g-label { background: none; border: none; white-space: nowrap; }",
    ".o287g-label span { display: block; transform: translate(-50%, -50%); font: 12px sans-serif; color: #333;",
    "  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; }",
    ".o287g-label-state span { font: bold 12px sans-serif; color: #555; letter-spacing: .04em; }",
    ".o287g-label-county span { font: italic 11px sans-serif; color: #6a6a6a; }",
    ".leaflet-container { background: #dfe9f0; }",
    ".o287g-legend i { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 5px; vertical-align: -2px; box-sizing: border-box; }"
  ].join("\n");

  function addStyle() {
    if (document.getElementById("o287g-style")) return;
    var style = document.createElement("style");
    style.id = "o287g-style";
    style.textContent = css;
    document.head.appendChild(style);
  }

  // The models and status a marker stands for, read from the popup HTML datasette-cluster-map built.
  function classify(content) {
    var div = document.createElement("div");
    div.innerHTML = content;
    var info = { models: [], status: "" };
    var dl = div.querySelector("dl");
    if (dl) {
      var fields = {};
      dl.querySelectorAll("dt").forEach(function (dt) {
        var dd = dt.nextElementSibling;
        var first = dd && dd.firstChild;
        fields[dt.textContent.trim()] = first ? first.textContent.trim() : "";
      });
      var modelText = fields.model || fields.models_active || fields.agency_models_active || "";
      info.status = fields.status || fields.agency_status || "";
      if (!modelText && fields.models_ever) modelText = fields.models_ever;
      info.models = (modelText.match(/JEM|WSO|TFM/g) || []);
    } else {
      var ps = div.querySelectorAll("p");
      var description = ps.length > 1 ? ps[ps.length - 1].textContent : "";
      description.split("·").forEach(function (segment) {
        segment = segment.trim();
        if (!info.models.length && ONLY_MODELS.test(segment)) info.models = segment.match(/JEM|WSO|TFM/g);
        else if (!info.status && STATUS.test(segment)) info.status = segment.match(STATUS)[1].toLowerCase();
      });
    }
    info.models = MODELS.filter(function (m) { return info.models.indexOf(m) > -1; });
    info.status = info.status.toLowerCase();
    return info;
  }

  function markerTitle(info) {
    return (info.models.join(", ") || WORDS.noModel) + " · " + (WORDS.status[info.status] || info.status || WORDS.unknown);
  }

  // A popup in the page's language: field names and status words translated, links kept in it.
  function localise(content) {
    if (!SETTINGS.prefix) return content;
    var div = document.createElement("div");
    div.innerHTML = content;
    div.querySelectorAll("dt").forEach(function (dt) {
      var name = dt.textContent.trim();
      if (WORDS.fields[name]) dt.textContent = WORDS.fields[name];
      var dd = dt.nextElementSibling;
      if (dd && (name === "status" || name === "agency_status") && WORDS.status[dd.textContent.trim()]) dd.textContent = WORDS.status[dd.textContent.trim()];
    });
    div.querySelectorAll("p").forEach(function (p) {
      if (p.querySelector("a") || p.textContent.indexOf("·") < 0) return;
      p.textContent = p.textContent.split(" · ").map(function (segment) {
        if (WORDS.status[segment]) return WORDS.status[segment];
        if (segment === "signed date not printed") return WORDS.signed + " " + WORDS.dateNotPrinted;
        if (segment.indexOf("signed ") === 0) return WORDS.signed + " " + segment.slice(7);
        return segment;
      }).join(" · ");
    });
    div.querySelectorAll("a[href^='/']").forEach(function (a) {
      if (a.getAttribute("href").indexOf(SETTINGS.prefix + "/") !== 0) a.setAttribute("href", SETTINGS.prefix + a.getAttribute("href"));
    });
    return div.innerHTML;
  }

  function isEnded(info) { return info.status === "ended" || info.status === "superseded"; }
  function isPending(info) { return info.status.indexOf("pending") === 0; }

  function pie(parts) {
    // parts: [[colour, weight], ...] -> a CSS conic-gradient
    var total = parts.reduce(function (s, p) { return s + p[1]; }, 0);
    if (!total) return COLOURS.ended;
    var at = 0, stops = [];
    parts.forEach(function (p) {
      if (!p[1]) return;
      var from = (at / total) * 100;
      at += p[1];
      stops.push(p[0] + " " + from.toFixed(2) + "% " + ((at / total) * 100).toFixed(2) + "%");
    });
    return stops.length === 1 ? parts.filter(function (p) { return p[1]; })[0][0] : "conic-gradient(" + stops.join(", ") + ")";
  }

  function markerIcon(L, info) {
    var cls = "o287g-dot", background = "";
    if (isPending(info)) cls += " o287g-pending";
    else if (isEnded(info)) {
      // a grey ring around a small dot of the model(s) it was
      cls += " o287g-ended";
      if (info.models.length) background = "radial-gradient(circle, " + COLOURS[info.models[0]] + " 0 35%, #fff 40%)";
    } else background = pie(info.models.map(function (m) { return [COLOURS[m], 1]; }));
    var title = markerTitle(info);
    return L.divIcon({
      className: "o287g-marker o287g-" + (isEnded(info) ? "ended" : isPending(info) ? "pending" : "active"),
      html: '<span class="' + cls + '" title="' + title + '" style="background: ' + background + '"></span>',
      iconSize: [16, 16],
      iconAnchor: [8, 8],
      popupAnchor: [0, -8]
    });
  }

  function clusterIcon(cluster) {
    var L = window.L;
    var tally = { JEM: 0, WSO: 0, TFM: 0, ended: 0, other: 0 };
    var markers = cluster.getAllChildMarkers();
    markers.forEach(function (m) {
      var info = m.options.open287g;
      if (!info) tally.other += 1;
      else if (isEnded(info) || isPending(info) || !info.models.length) tally.ended += 1;
      else info.models.forEach(function (model) { tally[model] += 1 / info.models.length; });
    });
    var n = cluster.getChildCount();
    var size = Math.round(Math.min(56, 26 + 7 * Math.log10(n + 1) * 1.6));
    var background = pie([[COLOURS.JEM, tally.JEM], [COLOURS.WSO, tally.WSO], [COLOURS.TFM, tally.TFM], [COLOURS.ended, tally.ended], ["#3388ff", tally.other]]);
    var title = MODELS.map(function (m) { return m + " " + Math.round(tally[m]); }).join(", ") + (tally.ended ? ", ended/pending " + tally.ended : "");
    return L.divIcon({
      html: '<div class="o287g-pie" title="' + title + '" style="background: ' + background + '"><span>' + n + "</span></div>",
      className: "marker-cluster o287g-cluster",
      iconSize: L.point(size, size)
    });
  }

  // TopoJSON (us-atlas) to GeoJSON: arcs are delta-encoded and quantized.
  function topoFeatures(topo, name) {
    var t = topo.transform;
    var arcs = topo.arcs.map(function (arc) {
      var x = 0, y = 0;
      return arc.map(function (p) { x += p[0]; y += p[1]; return [x * t.scale[0] + t.translate[0], y * t.scale[1] + t.translate[1]]; });
    });
    function ring(indexes) {
      var points = [];
      indexes.forEach(function (i, k) {
        var arc = i < 0 ? arcs[~i].slice().reverse() : arcs[i];
        points = points.concat(k ? arc.slice(1) : arc);
      });
      return points;
    }
    return topo.objects[name].geometries.map(function (g) {
      var coordinates = g.type === "Polygon" ? g.arcs.map(ring) : g.arcs.map(function (polygon) { return polygon.map(ring); });
      return { type: "Feature", properties: g.properties || {}, geometry: { type: g.type, coordinates: coordinates } };
    });
  }

  // Place names and county lines, from what the site already serves (no tile server): state names
  // (the states table's centre points) when the whole country shows, county lines from
  // /county-shapes.json (Albers USA outlines turned back into latitude and longitude), the largest
  // towns in view (the places table, most ZIP codes first) and county names as one zooms in.
  // the zoom levels: state names up to, county lines, town and county names from
  var LABELS = { statesUpTo: 6, counties: 6, towns: 6, countyNames: 8 };
  var TOWNS_IN_VIEW = 40;

  function rings(path) {
    // "M x y l dx dy dx dy ... z", in tenths, several rings a path
    return path.split("z").filter(function (p) { return p.indexOf("M") > -1; }).map(function (ring) {
      var parts = ring.replace("M", "").split("l"), first = parts[0].trim().split(/\s+/).map(Number);
      var x = first[0], y = first[1], steps = (parts[1] || "").trim().split(/\s+/).map(Number), points = [[x, y]];
      for (var i = 0; i + 1 < steps.length; i += 2) { x += steps[i]; y += steps[i + 1]; points.push([x, y]); }
      points.push(points[0]);
      return points;
    });
  }

  function placeNames(L, map) {
    var albers = window.open287gAlbersUsa, on = true;
    // county lines over the state outlines' fill (overlay pane, 400), names over them, markers (600) on top
    [["o287g-lines", 410], ["o287g-labels", 450]].forEach(function (p) {
      var pane = map.createPane(p[0]);
      pane.style.zIndex = p[1];
      pane.style.pointerEvents = "none";
    });
    var lines = L.layerGroup(), names = L.layerGroup({ pane: "o287g-labels" }).addTo(map);
    var states = null, counties = null, loadingCounties = false, asked = 0;

    function latLng(p) { var q = albers.invert(p[0], p[1]); return [q[1], q[0]]; }

    function loadCounties() {
      if (counties || loadingCounties) return;
      loadingCounties = true;
      fetch(SETTINGS.counties).then(function (r) { return r.json(); }).then(function (shapes) {
        var all = [];
        counties = shapes.map(function (s) {
          var latlngs = rings(s.path).map(function (ring) { return ring.map(latLng); });
          all.push.apply(all, latlngs);
          return { name: s.name, at: latLng([(s.b[0] + s.b[2]) / 2, (s.b[1] + s.b[3]) / 2]) };
        });
        L.polyline(all, { color: "#9a9a9a", weight: 0.7, interactive: false, renderer: L.canvas({ padding: 0.3, pane: "o287g-lines" }) }).addTo(lines);
        draw();
      });
    }

    function label(text, at, cls) {
      return L.marker(at, {
        pane: "o287g-labels", interactive: false, keyboard: false,
        icon: L.divIcon({ className: "o287g-label " + cls, html: "<span>" + text.replace(/&/g, "&amp;").replace(/</g, "&lt;") + "</span>", iconSize: null })
      });
    }

    // Greedy: a name is left out where it would cover one already placed.
    function place(candidates) {
      var taken = [], size = map.getSize();
      names.clearLayers();
      candidates.forEach(function (c) {
        var p = map.latLngToContainerPoint(c.at), w = c.text.length * (c.cls === "o287g-label-state" ? 7.5 : 6.5) + 6, h = 16;
        var box = [p.x - w / 2, p.y - h / 2, p.x + w / 2, p.y + h / 2];
        if (box[0] < 0 || box[1] < 0 || box[2] > size.x || box[3] > size.y) return;  // whole names only
        for (var i = 0; i < taken.length; i++) {
          var t = taken[i];
          if (box[0] < t[2] && box[2] > t[0] && box[1] < t[3] && box[3] > t[1]) return;
        }
        taken.push(box);
        label(c.text, c.at, c.cls).addTo(names);
      });
    }

    var towns = [];
    function draw() {
      var z = map.getZoom(), view = map.getBounds(), candidates = [], drawLines = on && z >= LABELS.counties;
      // the canvas stays in its pane once made: hide the pane
      map.getPane("o287g-lines").style.display = drawLines ? "" : "none";
      if (!on) { names.clearLayers(); return; }
      if (drawLines) { lines.addTo(map); loadCounties(); }
      if (z >= LABELS.towns) towns.forEach(function (t) { if (view.contains(t.at)) candidates.push(t); });
      if (z >= LABELS.countyNames && counties) counties.forEach(function (c) {
        if (view.contains(c.at)) candidates.push({ text: c.name, at: c.at, cls: "o287g-label-county" });
      });
      if (z <= LABELS.statesUpTo && states) states.forEach(function (s) { candidates.unshift(s); });
      place(candidates);
    }

    function loadTowns() {
      if (!on || map.getZoom() < LABELS.towns) { towns = []; draw(); return; }
      var b = map.getBounds(), n = ++asked;
      var url = SETTINGS.places + "?_shape=array&_col=name&_col=latitude&_col=longitude&_sort_desc=zip_count&_size=" + TOWNS_IN_VIEW +
        "&latitude__gte=" + b.getSouth().toFixed(3) + "&latitude__lte=" + b.getNorth().toFixed(3) +
        "&longitude__gte=" + b.getWest().toFixed(3) + "&longitude__lte=" + b.getEast().toFixed(3);
      fetch(url).then(function (r) { return r.json(); }).then(function (rows) {
        if (n !== asked) return;  // the reader moved on: a newer answer is coming
        towns = rows.map(function (r) { return { text: r.name, at: [r.latitude, r.longitude], cls: "o287g-label-town" }; });
        draw();
      });
    }

    fetch(SETTINGS.states + "?_shape=array&_col=name&_col=latitude&_col=longitude&_size=100").then(function (r) { return r.json(); }).then(function (rows) {
      states = rows.filter(function (r) { return r.latitude !== null; }).map(function (r) {
        return { text: r.name, at: [r.latitude, r.longitude], cls: "o287g-label-state" };
      });
      draw();
    });
    map.on("moveend", loadTowns);
    map.on("zoomend", draw);
    return { show: function (value) { on = value; loadTowns(); } };
  }

  // What the page's maps expose (the tests read it): each map set up, and how many marker batches were placed.
  function registry() {
    return (window.open287g = window.open287g || { maps: [], batches: 0 });
  }

  function setUpMap(L, map, group) {
    if (!map || map.__open287g) return;
    map.__open287g = true;
    registry().maps.push(map);
    var container = map.getContainer();
    container.setAttribute("role", "region");
    container.setAttribute("aria-label", WORDS.map.replace("%(title)s", (document.querySelector("h1") || { textContent: "" }).textContent.trim()));

    // Outlines shipped with the site instead of third-party tiles; the tiles stay one tick away.
    map.setMaxZoom(18);
    map.options.zoomSnap = 0.25;  // the 48 states fill a phone's narrow map
    var tiles = [];
    map.eachLayer(function (layer) { if (layer instanceof L.TileLayer) tiles.push(layer); });
    tiles.forEach(function (layer) { map.removeLayer(layer); });
    var outlines = L.layerGroup().addTo(map);
    fetch(SETTINGS.outlines).then(function (r) { return r.json(); }).then(function (topo) {
      L.geoJSON({ type: "FeatureCollection", features: topoFeatures(topo, "states") }, {
        interactive: false,
        style: { color: "#6b6b6b", weight: 1, fillColor: "#fbfbf8", fillOpacity: 1 }
      }).addTo(outlines);
      outlines.eachLayer(function (layer) { if (layer.bringToBack) layer.bringToBack(); });
    });
    var places = placeNames(L, map);

    // First view: the 48 contiguous states whenever the markers reach beyond them (Alaska, Hawaii,
    // Guam...), which the region buttons then show; a map filtered to one place fits its markers.
    var fitBounds = map.fitBounds;
    map.fitBounds = function (bounds, options) {
      map.invalidateSize(false);  // the map was made before its element joined the page: its size was 0
      var box = L.latLngBounds(CONTIGUOUS);
      bounds = L.latLngBounds(bounds);
      options = L.extend({ animate: false }, options);
      if (bounds.isValid() && bounds.intersects(box) && !box.contains(bounds)) return fitBounds.call(map, CONTIGUOUS, options);
      return fitBounds.call(map, bounds, options);
    };
    // The group joins the map only once datasette-cluster-map's first fitBounds gave it a view; the view is fitted
    // again through this fitBounds once the group has placed its markers (chunkProgress, in wrap below).

    // The controls sit under the map, where they hide none of it (on a phone a panel over the map hid a third).
    var tools = document.createElement("div");
    tools.className = "o287g-map-tools";
    var regions = document.createElement("div");
    regions.className = "o287g-regions";
    regions.setAttribute("role", "group");
    regions.setAttribute("aria-label", WORDS.showOnMap);
    regions.appendChild(document.createTextNode(WORDS.show + " "));
    REGIONS.forEach(function (region) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = region[0];
      button.addEventListener("click", function () { map.fitBounds(region[1]); });
      regions.appendChild(button);
    });
    tools.appendChild(regions);
    var layers = document.createElement("div");
    layers.className = "o287g-layers";
    function toggle(label, on, change) {
      var box = document.createElement("label"), input = document.createElement("input");
      input.type = "checkbox";
      input.checked = on;
      input.addEventListener("change", function () { change(input.checked); });
      box.appendChild(input);
      box.appendChild(document.createTextNode(" " + label));
      layers.appendChild(box);
    }
    toggle(WORDS.placeNames, true, places.show);
    if (tiles.length) toggle(WORDS.tiles, false, function (on) {
      if (on) tiles[0].addTo(map); else map.removeLayer(tiles[0]);
    });
    tools.appendChild(layers);
    container.parentNode.insertBefore(tools, container.nextSibling);

    // The legend sits under the map, where it hides no marker.
    var legend = document.createElement("div");
    legend.className = "o287g-legend";
    legend.innerHTML = MODELS.map(function (m) {
        return '<span><i style="background:' + COLOURS[m] + '"></i>' + m + " · " + MODEL_NAMES[m] + "</span>";
      }).join("") +
      '<span><i style="border:3px solid ' + COLOURS.ended + '"></i>' + WORDS.ended + "</span>" +
      '<span><i style="border:2px dashed #555"></i>' + WORDS.pendingOnly + "</span>" +
      "<span>" + WORDS.clusters + "</span>";
    tools.parentNode.insertBefore(legend, tools.nextSibling);
  }

  function patch(L) {
    if (!L || L.__open287g || typeof L.marker !== "function") return;
    L.__open287g = true;
    addStyle();
    var marker = L.marker;
    L.marker = function (latlng, options) {
      var m = marker.call(this, latlng, options);
      var bindPopup = m.bindPopup;
      m.bindPopup = function (content, popupOptions) {
        if (typeof content === "string") {
          var info = classify(content);
          if (info.models.length || info.status) {
            m.options.open287g = info;
            m.options.title = markerTitle(info);
            m.setIcon(markerIcon(L, info));
          }
        }
        return bindPopup.call(this, typeof content === "string" ? localise(content) : content, popupOptions);
      };
      return m;
    };
    var wrapped = null;
    function wrap(factory) {
      if (!factory) return factory;
      return function (options) {
        var group = factory(Object.assign({
          iconCreateFunction: clusterIcon,
          // markercluster adds a batch's markers in timed chunks, but datasette-cluster-map fits the view as the
          // batch arrives, to the first chunk only (none at all on a slow device): fit again once all are in.
          chunkProgress: function (done, total) {
            if (done !== total) return;
            setTimeout(function () {
              var bounds = group.getBounds();  // none when the batch was empty
              if (group._map && group._map.__open287g && bounds.isValid()) group._map.fitBounds(bounds);
              registry().batches += 1;
            }, 0);
          }
        }, options || {}));
        group.on("add", function () { setUpMap(L, group._map, group); });
        return group;
      };
    }
    var existing = L.markerClusterGroup;
    Object.defineProperty(L, "markerClusterGroup", {
      configurable: true,
      enumerable: true,
      get: function () { return wrapped; },
      set: function (factory) { wrapped = wrap(factory); }
    });
    if (existing) L.markerClusterGroup = existing;
  }

  if (window.L) {
    patch(window.L);
  } else {
    var current;
    Object.defineProperty(window, "L", {
      configurable: true,
      enumerable: true,
      get: function () { return current; },
      set: function (value) {
        current = value;
        try { patch(value); } catch (e) { console.error("open287g markers:", e); }
      }
    });
  }
})();
