/*
 * covmap.js: draws an edge-coverage plan on a Leaflet map (edge-coverage, BSD-3-Clause).
 *
 * covmap(data, map) takes the plan payload written by coverage/maps.py and returns an object
 * whose layer(group, kind, arg) fills a layer-control overlay when it is first shown. Demand
 * "units" are demand points (circle markers) or H3 hexagons (polygons), all on canvas
 * renderers in their own panes; sites are DOM markers. Every string in the payload that can
 * come from the user's files is HTML-escaped by the Python side; this file only joins those
 * strings with fixed markup and numbers.
 */
/* exported covmap */
var covmap = (function () {
    "use strict";

    function fmtInt(v) {  // counts: 1,234; 1.000e+300 when huge; n/a when not a number
        if (typeof v !== "number" || !isFinite(v)) { return "n/a"; }
        return Math.abs(v) >= 1e15 ? v.toExponential(3) : Math.round(v).toLocaleString("en-US");
    }
    function fmtMs(v) {
        return (typeof v !== "number" || !isFinite(v) || v < 0) ? "n/a" : v.toFixed(1) + " ms";
    }
    function row(k, v) { return "<tr><th>" + k + "</th><td>" + v + "</td></tr>"; }
    function fmtPct(u) {  // a utilisation: 76.0 %
        return (typeof u !== "number" || !isFinite(u) || u < 0) ? "n/a" : (100 * u).toFixed(1) + " %";
    }
    function fmtRate(v) {  // a request rate's number: 12.3, whole numbers from 1,000
        if (typeof v !== "number" || !isFinite(v) || v < 0) { return "n/a"; }
        if (v >= 1e15) { return v.toExponential(3); }
        return v >= 1000 ? Math.round(v).toLocaleString("en-US") : v.toLocaleString("en-US",
            {minimumFractionDigits: 1, maximumFractionDigits: 1});
    }
    function fmtRps(v) {  // a request rate: 12.3 requests/s
        var t = fmtRate(v);
        return t === "n/a" ? t : t + " requests/s";
    }

    return function (data, M) {
        var D = data.units, F = data.failures, S = data.sites, P = data.proposed;
        var A = data.areas, C = data.config;
        var CAP = data.capacity || null;  // a capacitated plan only
        var HEX = C.mode === "h3";
        var NU = D.pop.length, NS = S.lat.length;
        var PANES = {covAreas: 350, covDemand: 400, covRings: 420, covFail: 440};
        var R = {};
        var drawn = {};
        var stats = {units: NU, mode: C.mode, built: {}, errors: 0};
        var failGroup = null, failSet = null, failSite = -1, selectEl = null, outEl = null;
        var grid = null, gridStep = 1;

        if (C.bounds) {
            // the legend covers the map's left side (up to 380 px) and the layer control
            // its top right: the plan is fitted beside them, not under them (tester 184:
            // Tarawa, Lautoka, Bergen opened under the legend), where the map is wide
            // enough for that (else the usual 20 px)
            var size = M.getSize(), legend = document.querySelector(".covmap-legend");
            var left = legend ? legend.offsetWidth + 30 : 0;
            var right = 60;
            var fit = (size.x > 2.5 * (left + right)) ?
                {paddingTopLeft: [left, 20], paddingBottomRight: [right, 20]} :
                {padding: [20, 20]};
            fit.animate = false;
            M.fitBounds(C.bounds, fit);
        }
        Object.keys(PANES).forEach(function (name) {
            if (!M.getPane(name)) { M.createPane(name).style.zIndex = PANES[name]; }
            R[name] = L.canvas({pane: name, padding: 0.2});
        });

        function site(k) { return k < 0 ? "none" : C.siteLabels[k]; }

        // v: a latency (ms). With per-row budgets (D.bu), unit i's own budget ends its
        // ramp and `over` (computed against it) says whether it is over budget.
        function color(v, i, over) {
            if (v < 0) { return C.missingColor; }
            var b = C.budget;
            if (D.bu && i !== undefined) {
                if (over) { return C.overColor; }
                if (D.bu[i] > 0) { b = D.bu[i]; }
            } else if (v > C.budget + 1e-6) { return C.overColor; }
            var t = b > C.vmin ? Math.min(1, Math.max(0, (v - C.vmin) / (b - C.vmin))) : 1;
            return C.palette[Math.round(t * (C.palette.length - 1))];
        }

        function ring(i) {  // hexagon i: vertices hv[i] .. hv[i+1] - 1 of hx (offset pairs)
            var out = [];
            for (var k = 2 * D.hv[i]; k < 2 * D.hv[i + 1]; k += 2) {
                out.push([D.lat[i] + D.hx[k] * 1e-5, D.lon[i] + D.hx[k + 1] * 1e-5]);
            }
            return out;
        }

        function radius(i) {
            return Math.min(C.rMax, Math.max(C.rMin, C.rScale * Math.sqrt(D.pop[i])));
        }

        function shape(i, style, pane) {
            style.pane = pane;
            style.renderer = R[pane];
            style.interactive = false;
            if (HEX) { return L.polygon(ring(i), style); }
            style.radius = (style.radius || 0) + radius(i);
            return L.circleMarker([D.lat[i], D.lon[i]], style);
        }

        function fill(c) {
            // Hexagons get a thin outline of their own colour: visible even when a hexagon is
            // a pixel or two wide (a national map zoomed out), and no seams between them.
            return HEX ? {color: c, weight: 1, opacity: 0.75, fillColor: c, fillOpacity: 0.75}
                : {color: "#333", weight: 0.5, opacity: 0.5, fillColor: c, fillOpacity: 0.85};
        }

        function outline(c, pad) {
            return HEX ? {color: c, weight: 2, opacity: 0.95, fill: false}
                : {color: c, weight: 2, opacity: 0.95, fill: false, radius: pad};
        }

        // ---- unit popups -----------------------------------------------------------
        function waterfall(i) {
            if (!C.waterfall || D.pl[i] < 0) { return ""; }
            var rows = "", a = D.ac[i], pd = Math.max(0, D.pd[i]);
            if (a >= 0) {
                var w = C.waterfall[a];
                for (var k = 0; k < w.parts.length; k++) {
                    rows += row(w.parts[k][0], fmtMs(w.parts[k][1]));
                }
            } else {
                rows += row("fixed part (mixed access)", fmtMs(D.pl[i] - pd));
            }
            rows += row("propagation, " + (pd / C.msPerKm).toFixed(0) + " km", fmtMs(pd));
            rows += row("<b>= " + C.pct + " to serving site</b>", "<b>" + fmtMs(D.pl[i]) + "</b>");
            return "<div class='covmap-h'>Latency waterfall" + (HEX ? " (mean)" : "") +
                "</div><table class='covmap-wf'>" + rows + "</table>";
        }

        function popup(i) {
            var title, t = row("Population", fmtInt(D.pop[i]));
            if (HEX) {
                title = "Hexagon " + D.h[i] + " (" + fmtInt(D.np[i]) + " demand points)";
                var ns = C.statusNames.length;
                for (var s = 0; s < ns; s++) {
                    var v = D.sp[i * ns + s];
                    if (v > 0) { t += row("&hellip; " + C.statusNames[s], fmtInt(v)); }
                }
                var share = D.ps[i] < 0.995 ? " (" + Math.round(100 * D.ps[i]) + "% of people)" : "";
                t += row("Serving site", site(D.p[i]) + share + ", " + fmtMs(D.pl[i]) + " mean");
                t += row("Backup site", site(D.b[i]) + ", " + fmtMs(D.bl[i]) + " mean");
                t += row("If serving site fails", D.n1[i] < 0 ? "no surviving site" :
                    site(D.n1s[i]) + ", worst " + fmtMs(D.n1[i]));
            } else {
                title = D.name[i];
                t += row("Status", C.statusNames[D.st[i]] +
                    (D.nc[i] >= 0 ? " (" + D.nc[i] + " candidate" + (D.nc[i] === 1 ? "" : "s") +
                    " in budget)" : ""));
                t += row("Serving site", site(D.p[i]) + ", " + fmtMs(D.pl[i]));
                t += row("Backup site", site(D.b[i]) + ", " + fmtMs(D.bl[i]));
                t += row("If serving site fails", D.n1[i] < 0 ? "no surviving site" :
                    site(D.n1s[i]) + ", " + fmtMs(D.n1[i]));
            }
            if (D.p[i] >= 0) {
                t += row("&hellip; outside budget", D.out[i] > 0 ? fmtInt(D.out[i]) + " people" : "none");
            }
            return "<div class='covmap-popup'><b>" + title + "</b><table>" + t + "</table>" +
                waterfall(i) + "</div>";
        }

        // ---- layer builders ----------------------------------------------------------
        function sitePopup(j) {
            return S.popup[j] + "<button type='button' class='covmap-fail-btn' data-site='" + j +
                "'>Show what happens if it fails</button>";
        }

        function siteMarker(j) {
            var cls = "covmap-site " + (S.req[j] ? "covmap-site-existing" : "covmap-site-new");
            var icon;
            if (CAP) {  // size by capacity, colour by utilisation, dashed ring when thin
                var z = CAP.size[j];
                cls += " covmap-site-cap" + (CAP.thin[j] ? " covmap-site-thin" : "");
                icon = L.divIcon({
                    className: cls, iconSize: [z, z], iconAnchor: [z / 2, z / 2],
                    popupAnchor: [0, -z / 2], tooltipAnchor: [z / 2 + 1, 0],
                    html: "<span data-site='" + j + "' style='background:" + S.color[j] +
                        ";width:" + z + "px;height:" + z + "px'></span>"
                });
            } else {
                icon = L.divIcon({
                    className: cls, iconSize: [18, 18], iconAnchor: [9, 9], popupAnchor: [0, -9],
                    tooltipAnchor: [10, 0],
                    html: "<span data-site='" + j + "' style='background:" + S.color[j] + "'></span>"
                });
            }
            var mk = L.marker([S.lat[j], S.lon[j]], {icon: icon, keyboard: false, riseOnHover: true});
            mk.bindPopup(sitePopup(j), {maxWidth: 400});
            mk.bindTooltip(S.tip[j]);
            return mk;
        }

        var BUILD = {
            latency: function (g) {
                for (var i = 0; i < NU; i++) {
                    g.addLayer(shape(i, fill(D.st[i] === C.uncoverableCode ? C.missingColor :
                        color(D.pl[i], i, D.po ? D.po[i] : 0)), "covDemand"));
                }
            },
            status: function (g) {
                for (var i = 0; i < NU; i++) {
                    g.addLayer(shape(i, fill(C.statusColors[D.st[i]] || C.missingColor), "covDemand"));
                }
            },
            n1: function (g) {
                for (var i = 0; i < NU; i++) {
                    if (D.p[i] >= 0) {
                        g.addLayer(shape(i, fill(color(D.n1[i] < 0 ? 1e9 : D.n1[i], i,
                            D.n1[i] < 0 || (D.no ? D.no[i] : 0))), "covDemand"));
                    }
                }
            },
            outside: function (g) {
                for (var i = 0; i < NU; i++) {
                    if (D.out[i] > 0) { g.addLayer(shape(i, outline(C.outsideColor, 2.5), "covRings")); }
                }
            },
            gaps: function (g) {
                for (var i = 0; i < NU; i++) {
                    if (D.gap[i]) {  // coverage.status.is_gap, computed by the map's Python side
                        g.addLayer(shape(i, outline(C.statusColors[D.st[i]] || C.missingColor, 5), "covRings"));
                    }
                }
            },
            sites: function (g, tier) {
                for (var j = 0; j < NS; j++) {
                    if (S.tier[j] === tier) { g.addLayer(siteMarker(j)); }
                }
            },
            radius: function (g) {
                for (var j = 0; j < NS; j++) {
                    if (S.rkm[j] > 0) {
                        g.addLayer(L.circle([S.lat[j], S.lon[j]], {
                            radius: S.rkm[j] * 1000, pane: "covAreas", renderer: R.covAreas,
                            color: "#555", weight: 1, opacity: 0.7, fillColor: "#555",
                            fillOpacity: 0.04, interactive: false
                        }));
                    }
                }
            },
            areas: function (g) {
                for (var j = 0; j < A.site.length; j++) {
                    var c = A.ring[j], pts = [];
                    for (var k = 0; k < c.length; k += 2) { pts.push([c[k], c[k + 1]]); }
                    g.addLayer(L.polygon(pts, {
                        pane: "covAreas", renderer: R.covAreas, color: A.color[j], weight: 2,
                        opacity: 0.9, fillColor: A.color[j], fillOpacity: 0.12, interactive: false
                    }));
                }
            },
            proposed: function (g) {
                for (var j = 0; j < P.lat.length; j++) {
                    var icon = L.divIcon({
                        className: "covmap-proposed", iconSize: [16, 16], iconAnchor: [8, 8],
                        popupAnchor: [0, -8], html: "<span data-proposed='" + j + "'></span>"
                    });
                    var mk = L.marker([P.lat[j], P.lon[j]], {icon: icon, keyboard: false});
                    mk.bindPopup(P.popup[j], {maxWidth: 360});
                    mk.bindTooltip(P.tip[j]);
                    g.addLayer(mk);
                }
            },
            failure: function (g) { failGroup = g; }
        };

        function on(kind) { return drawn[kind] && M.hasLayer(drawn[kind]); }

        function layer(g, kind, arg) {
            var key = kind === "sites" ? "sites:" + arg : kind;
            drawn[key] = g;
            if (kind === "failure") { failGroup = g; }
            var built = false;
            g.on("add", function () {
                if (built) { return; }
                built = true;
                var t0 = Date.now();
                BUILD[kind](g, arg);
                stats.built[key] = {n: g.getLayers().length, ms: Date.now() - t0};
            });
        }

        // ---- clicking on demand ------------------------------------------------------
        function buildGrid() {
            var lo = Infinity, hi = -Infinity, lo2 = Infinity, hi2 = -Infinity, i;
            for (i = 0; i < NU; i++) {
                lo = Math.min(lo, D.lat[i]); hi = Math.max(hi, D.lat[i]);
                lo2 = Math.min(lo2, D.lon[i]); hi2 = Math.max(hi2, D.lon[i]);
            }
            gridStep = Math.max((Math.max(hi - lo, hi2 - lo2) || 1) / 256, HEX ? C.hexDeg : 1e-4);
            grid = {};
            for (i = 0; i < NU; i++) {
                var key = Math.floor(D.lat[i] / gridStep) + ":" + Math.floor(D.lon[i] / gridStep);
                (grid[key] = grid[key] || []).push(i);
            }
        }

        function inside(i, lat, lon) {
            var pts = ring(i), c = false;
            for (var a = 0, b = pts.length - 1; a < pts.length; b = a++) {
                var ya = pts[a][0], xa = pts[a][1], yb = pts[b][0], xb = pts[b][1];
                if ((ya > lat) !== (yb > lat) && lon < (xb - xa) * (lat - ya) / (yb - ya) + xa) { c = !c; }
            }
            return c;
        }

        function member(i) {
            if (on("latency") || on("status") || on("n1")) { return true; }
            if (on("outside") && D.out[i] > 0) { return true; }
            if (on("gaps") && D.gap[i]) { return true; }
            return on("failure") && failSet !== null && failSet[i] === true;
        }

        function pick(latlng) {
            if (grid === null) { buildGrid(); }
            var p0 = M.latLngToContainerPoint(latlng), dLat, dLon;
            if (HEX) {
                dLat = C.hexDeg;
                dLon = C.hexDeg / Math.max(0.05, Math.cos(latlng.lat * Math.PI / 180));
            } else {
                var q = M.containerPointToLatLng([p0.x + C.rMax + 8, p0.y + C.rMax + 8]);
                dLat = Math.abs(q.lat - latlng.lat);
                dLon = Math.abs(q.lng - latlng.lng);
            }
            var r0 = Math.floor((latlng.lat - dLat) / gridStep), r1 = Math.floor((latlng.lat + dLat) / gridStep);
            var c0 = Math.floor((latlng.lng - dLon) / gridStep), c1 = Math.floor((latlng.lng + dLon) / gridStep);
            if ((r1 - r0 + 1) * (c1 - c0 + 1) > 250000) { return -1; }
            var best = -1, bestD = Infinity;
            for (var r = r0; r <= r1; r++) {
                for (var c = c0; c <= c1; c++) {
                    var cell = grid[r + ":" + c];
                    if (!cell) { continue; }
                    for (var k = 0; k < cell.length; k++) {
                        var i = cell[k];
                        if (!member(i)) { continue; }
                        if (HEX) {
                            if (inside(i, latlng.lat, latlng.lng)) { return i; }
                            continue;
                        }
                        var p = M.latLngToContainerPoint([D.lat[i], D.lon[i]]);
                        var d = p0.distanceTo(p);
                        if (d <= radius(i) + 4 && d < bestD) { best = i; bestD = d; }
                    }
                }
            }
            return best;
        }

        M.on("click", function (e) {
            var i = pick(e.latlng);
            if (i < 0) { return; }
            L.popup({maxWidth: 400}).setLatLng(HEX ? e.latlng : [D.lat[i], D.lon[i]])
                .setContent(popup(i)).openOn(M);
        });

        // ---- failure explorer ------------------------------------------------------------
        function utilColor(u) {
            var p = CAP.palette;
            return p[Math.round(Math.min(1, Math.max(0, u)) * (p.length - 1))];
        }

        // A capacitated plan: the capacity scenario that fails site s (its own failure, or its
        // failure domain's), each surviving site's load and utilisation in it, saturated sites
        // highlighted, and the load shed (capacity_scenarios.csv). Rings on the map: the sites
        // that take load, in their utilisation colour; saturated ones thick.
        function capacityPart(s) {
            var q = CAP.siteScen[s], X = CAP.scen, SHOW = 12;
            var h = "<div class='covmap-h'>Capacity: where its load goes</div>";
            if (q < 0) {
                stats.capacity = {site: s, scenario: -1};
                return h + "<div class='covmap-note covmap-cap-none'>" + (CAP.note ||
                    "No capacity scenario fails this site (the plan tolerates no failure, or " +
                    "the scenarios checked stop before it).") + "</div>";
            }
            var others = X.failed[q].filter(function (j) { return j !== s; });
            var list = [], nSat = 0, r;
            for (r = X.off[q]; r < X.off[q + 1]; r++) {
                var j = X.site[r], ld = X.sload[r];
                var u = CAP.cap[j] > 0 ? ld / CAP.cap[j] : -1, sat = u >= CAP.saturated - 1e-12;
                if (sat) { nSat++; }
                list.push({j: j, load: ld, u: u, d: ld - CAP.load[j], sat: sat});
            }
            var t = "";
            if (others.length) { t += row("Fails with it", others.map(site).join(", ")); }
            t += row("Load shed", "<span class='covmap-cap-shed'>" + fmtRps(X.shed[q]) + "</span>" +
                (X.feasible[q] ? "" : " (infeasible)"));
            t += row("Worst utilisation", fmtPct(X.worst[q]) + " at " +
                (X.worstSite[q] >= 0 ? site(X.worstSite[q]) : X.worstId[q]));
            t += row("Saturated (&ge; " + Math.round(100 * CAP.saturated) + " %)",
                "<span class='covmap-cap-nsat'>" + nSat + "</span> sites");
            h += "<table>" + t + "</table>";
            if (CAP.note) { h += "<div class='covmap-note'>" + CAP.note + "</div>"; }
            // a comparison's map: what the utilisations above are over
            if (CAP.capNote) { h += "<div class='covmap-note'>" + CAP.capNote + "</div>"; }
            if (list.length) {
                var rows = "", shown = 0;
                list.forEach(function (e, k) {
                    if (k >= SHOW && !e.sat) { return; }
                    shown++;
                    var m = fmtRate(Math.abs(e.d));
                    var sign = m === "0.0" || m === "0" ? "" : e.d > 0 ? "+" : "&minus;";
                    rows += "<tr class='covmap-cap-row" + (e.sat ? " covmap-cap-sat" : "") +
                        "' data-site='" + e.j + "' data-load='" + e.load + "' data-util='" + e.u +
                        "'><td>" + site(e.j) + "</td><td class='n'>" + fmtRate(e.load) +
                        "</td><td class='n'>" + fmtPct(e.u) + "</td><td class='n'>" +
                        sign + m + "</td></tr>";
                });
                h += "<table class='covmap-cap-sites'><thead><tr><th>surviving site</th>" +
                    "<th class='n'>load</th><th class='n'>utilisation</th><th class='n'>change" +
                    "</th></tr></thead><tbody>" + rows + "</tbody></table>" +
                    "<div class='covmap-note'>Load and change in requests/s, against normal " +
                    "operation.</div>";
                if (shown < list.length) {
                    h += "<div class='covmap-note'>" + (list.length - shown) + " more sites take " +
                        "less of its load.</div>";
                }
                if (CAP.perSite > 0) {
                    h += "<div class='covmap-note'>Per scenario, the " + CAP.perSite + " largest " +
                        "load increases and every saturated site are kept.</div>";
                }
                list.forEach(function (e) {
                    if (e.d <= 0 && !e.sat) { return; }
                    failGroup.addLayer(L.circleMarker([S.lat[e.j], S.lon[e.j]], {
                        pane: "covFail", renderer: R.covFail, radius: CAP.size[e.j] / 2 + (e.sat ? 8 : 5),
                        color: e.sat ? CAP.saturatedColor : utilColor(e.u), weight: e.sat ? 5 : 3,
                        fill: false, interactive: false
                    }));
                });
            }
            stats.capacity = {site: s, scenario: X.row[q], shed: X.shed[q], saturated: nSat,
                sites: list.length};
            return h;
        }

        function fail(s) {
            s = parseInt(s, 10);
            if (isNaN(s) || s >= NS) { s = -1; }
            failSite = s;
            if (selectEl !== null && selectEl.value !== String(s)) { selectEl.value = String(s); }
            if (failGroup === null) { return; }
            failGroup.clearLayers();
            failSet = null;
            if (s < 0) { if (outEl) { outEl.innerHTML = ""; } return; }
            if (!M.hasLayer(failGroup)) { failGroup.addTo(M); }
            failSet = {};
            var to = {}, pop = 0, outPop = 0, worst = -1, n = 0, anyOver = false;
            var bounds = L.latLngBounds([[S.lat[s], S.lon[s]], [S.lat[s], S.lon[s]]]);
            for (var r = F.off[s]; r < F.off[s + 1]; r++) {
                var i = F.u[r], v = F.lat[r], k = F.to[r];
                failSet[i] = true;
                n += F.n ? F.n[r] : 1;
                pop += F.pop[r];
                outPop += F.out[r];
                worst = Math.max(worst, v);
                var over = v < 0 || (F.o ? F.o[r] : v > C.budget + 1e-6);
                anyOver = anyOver || !!over;
                var c = color(v < 0 ? 1e9 : v, i, over);
                failGroup.addLayer(shape(i, fill(c), "covFail"));
                if (k >= 0 && k < NS) {
                    failGroup.addLayer(L.polyline([[D.lat[i], D.lon[i]], [S.lat[k], S.lon[k]]], {
                        pane: "covFail", renderer: R.covFail, color: c, weight: 1.2, opacity: 0.7,
                        interactive: false
                    }));
                }
                var t = to[k] = to[k] || {pop: 0, worst: -1, out: 0};
                t.pop += F.pop[r];
                t.out += F.out[r];
                t.worst = Math.max(t.worst, v);
                bounds.extend([D.lat[i], D.lon[i]]);
            }
            var targets = Object.keys(to).map(Number).sort(function (a, b) { return to[b].pop - to[a].pop; });
            targets.forEach(function (k) {
                if (k >= 0 && k < NS) {
                    failGroup.addLayer(L.circleMarker([S.lat[k], S.lon[k]], {
                        pane: "covFail", renderer: R.covFail, radius: 13, color: C.rerouteColor,
                        weight: 3, fill: false, interactive: false
                    }));
                }
            });
            failGroup.addLayer(L.circleMarker([S.lat[s], S.lon[s]], {
                pane: "covFail", renderer: R.covFail, radius: 15, color: C.outsideColor, weight: 3,
                dashArray: "5 4", fill: false, interactive: false
            }));
            var html = "<div class='covmap-fail-title'>" + site(s) + " fails</div><table>" +
                row("People re-routed", "<span class='covmap-fail-pop'>" + fmtInt(pop) + "</span>") +
                row(HEX ? "Demand points" : "Demand points", fmtInt(n)) +
                row("Worst latency", fmtMs(worst) + (anyOver ? " (over budget)" : "")) +
                row("Outside budget", "<span class='covmap-fail-out'>" + fmtInt(outPop) + "</span> people") +
                "</table>";
            if (targets.length) {
                html += "<div class='covmap-h'>Re-routed to</div><table>";
                targets.slice(0, 8).forEach(function (k) {
                    html += row(k < 0 ? "no surviving site" : site(k), fmtInt(to[k].pop) + " people, worst " +
                        fmtMs(to[k].worst));
                });
                if (targets.length > 8) { html += row("&hellip;", (targets.length - 8) + " more sites"); }
                html += "</table>";
            } else {
                html += "<div class='covmap-note'>No demand is served by this site.</div>";
            }
            if (CAP) { html += capacityPart(s); }
            if (outEl) { outEl.innerHTML = html; }
            stats.failure = {site: s, pop: pop, out: outPop, worst: worst, n: n};
            M.fitBounds(bounds, {padding: [40, 40], maxZoom: Math.max(M.getZoom(), 8)});
        }

        var ctl = L.control({position: "topright"});
        ctl.onAdd = function () {
            var div = L.DomUtil.create("div", "covmap-explorer leaflet-bar");
            var opts = "<option value='-1'>pick a site to fail&hellip;</option>";
            for (var j = 0; j < NS; j++) { opts += "<option value='" + j + "'>" + site(j) + "</option>"; }
            div.innerHTML = "<div class='covmap-explorer-head'>Failure explorer</div>" +
                "<select class='covmap-explorer-select' aria-label='Site to fail'>" + opts + "</select>" +
                "<div class='covmap-explorer-out'></div>";
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            selectEl = div.querySelector("select");
            outEl = div.querySelector(".covmap-explorer-out");
            selectEl.addEventListener("change", function () { fail(selectEl.value); });
            return div;
        };
        if (NS > 0) { ctl.addTo(M); }

        M.on("popupopen", function (e) {
            var el = e.popup.getElement();
            var btn = el ? el.querySelector(".covmap-fail-btn") : null;
            if (btn) {
                L.DomEvent.on(btn, "click", function () {
                    M.closePopup();
                    fail(btn.getAttribute("data-site"));
                });
            }
        });

        var api = {layer: layer, fail: fail, pick: pick, popup: popup, stats: stats, data: data,
            drawn: drawn};
        window.covmapLast = api;
        return api;
    };
})();
