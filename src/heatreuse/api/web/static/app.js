/* heatreuse web UI: login, live figures (server-sent events), ack and silence, charts.
   Plain JavaScript, no framework, no network access beyond this server. */
(function () {
  "use strict";
  var body = document.body;
  var site = body.dataset.site;
  var page = body.dataset.page;

  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function post(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": cookie("heatreuse_csrf") },
      body: JSON.stringify(data || {})
    });
  }
  function say(msg) {
    var el = document.getElementById("action-msg");
    if (el) { el.textContent = msg; }
  }
  function detail(resp) {
    return resp.json().then(function (j) { return j.detail || resp.statusText; },
                            function () { return resp.statusText; });
  }

  /* ---- login ---- */
  var form = document.getElementById("login-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("login-error");
      fetch("/api/v1/login", {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: form.name.value, password: form.password.value })
      }).then(function (resp) {
        if (resp.ok) { window.location.assign(form.dataset.next || "/"); return; }
        return detail(resp).then(function (d) { err.hidden = false; err.textContent = "Not logged in: " + d; });
      });
    });
  }

  /* ---- logout ---- */
  var out = document.getElementById("logout");
  if (out) {
    out.addEventListener("click", function () {
      post("/api/v1/logout").then(function () { window.location.assign("/login"); });
    });
  }

  /* ---- live figures ---- */
  var WORDS = page === "wall"
    ? { ok: "OK", warn: "WATCH", bad: "PROBLEM", unknown: "UNKNOWN", info: "" }
    : { ok: "OK", warn: "Watch", bad: "Problem", unknown: "Unknown", info: "" };
  function applyFigure(key, f) {
    document.querySelectorAll('[data-fig="' + key + '"]').forEach(function (el) {
      if (el.textContent !== f.text) {
        el.textContent = f.text;
        var box = el.closest(".fig, .tile");
        if (box) { box.classList.remove("flash"); void box.offsetWidth; box.classList.add("flash"); }
      }
      var holder = el.closest(".fig, .tile");
      if (holder) {
        holder.className = holder.className.replace(/\bstatus-\w+/, "status-" + f.status);
        var title = f.label + " [" + f.unit + "] from " + f.source + (f.note ? ". " + f.note : "") +
          (f.at ? ". Reading at " + f.at : "");
        if (holder.classList.contains("fig")) { holder.title = title; }
      }
    });
    document.querySelectorAll('[data-fig-status="' + key + '"]').forEach(function (el) {
      el.textContent = WORDS[f.status] || "";
    });
    document.querySelectorAll('[data-fig-note="' + key + '"]').forEach(function (el) {
      el.textContent = f.note || "";
    });
  }
  function applyAlerts(data) {
    var list = document.querySelector("[data-live-alerts]");
    if (list && page === "wall") {
      list.innerHTML = "";
      data.alerts.forEach(function (a) {
        var li = document.createElement("li");
        li.textContent = a.severity.toUpperCase() + " " + a.rule;
        list.appendChild(li);
      });
    }
  }
  var state = document.getElementById("live-state");
  if (site && page !== "login") {
    var url = body.dataset.events || ("/sites/" + encodeURIComponent(site) + "/events");
    if (window.EventSource) {
      var es = new EventSource(url);
      es.addEventListener("figures", function (ev) {
        var data = JSON.parse(ev.data);
        Object.keys(data.figures).forEach(function (k) { applyFigure(k, data.figures[k]); });
        if (data.periodic) {
          body.dataset.periodicAt = data.at;
          var asOf = document.getElementById("as-of");
          if (asOf) { asOf.setAttribute("datetime", data.at); asOf.textContent = data.at.slice(0, 10) + " " + data.at.slice(11, 16) + " UTC"; }
          return;
        }
        applyAlerts(data);
        document.querySelectorAll("[data-live-at]").forEach(function (el) {
          el.textContent = page === "wall" ? data.at.slice(11, 16)
            : data.at.slice(0, 10) + " " + data.at.slice(11, 19) + " UTC";
        });
        body.dataset.liveSeq = ev.lastEventId;
        if (state) { state.textContent = "live updates: on (" + data.at + ")"; }
      });
      es.onerror = function () { if (state) { state.textContent = "live updates: reconnecting"; } };
    } else if (state) { state.textContent = "live updates: not supported by this browser"; }
  }

  /* ---- ack and silence (shown only to roles that may) ---- */
  document.querySelectorAll("[data-ack]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var comment = window.prompt("Acknowledge alert " + btn.dataset.ack + ": comment (who takes it, why)", "");
      if (comment === null) { return; }
      post("/api/v1/sites/" + encodeURIComponent(site) + "/alerts/" + btn.dataset.ack + "/ack",
           { comment: comment }).then(function (resp) {
        if (resp.ok) { say("Alert " + btn.dataset.ack + " acknowledged."); window.location.reload(); }
        else { detail(resp).then(function (d) { say("Not acknowledged: " + d); }); }
      });
    });
  });
  var sil = document.getElementById("silence-form");
  if (sil) {
    sil.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var matchers = sil.matchers.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      post("/api/v1/sites/" + encodeURIComponent(site) + "/silences",
           { matchers: matchers, duration: sil.duration.value, comment: sil.comment.value }).then(function (resp) {
        if (resp.status === 202) {
          say("Longer than one person may silence: filed as a change request for a second person to approve.");
        } else if (resp.ok) { window.location.reload(); }
        else { detail(resp).then(function (d) { say("Not silenced: " + d); }); }
      });
    });
  }

  /* ---- charts (plotly.js from /static, only on the pages that load it) ---- */
  var cfg = { displaylogo: false, responsive: true };
  var hist = document.getElementById("history-data");
  if (hist && window.Plotly) {
    var h = JSON.parse(hist.textContent);
    h.series.forEach(function (s, i) {
      window.Plotly.newPlot("chart-" + (i + 1), [{
        x: s.x, y: s.y, type: "scatter", mode: "lines", connectgaps: false, name: s.point_id,
        line: { color: "#0b4f9c", width: 2 },
        hovertemplate: "%{x}<br>%{y:.2f} " + s.unit + "<br>" + s.point_id + " (" + h.source + ")<extra></extra>"
      }], { margin: { t: 10, r: 10, b: 40, l: 60 }, yaxis: { title: { text: s.unit } },
            xaxis: { type: "date" }, font: { size: 14, color: "#111" } }, cfg);
    });
  }
  var sk = document.getElementById("sankey-data");
  if (sk && window.Plotly) {
    var d = JSON.parse(sk.textContent);
    window.Plotly.newPlot("sankey", [{
      type: "sankey", valueformat: ",.0f", valuesuffix: " kWh",
      node: { label: d.labels, pad: 18, thickness: 18, line: { color: "#111", width: 1 },
              color: ["#555", "#10243e", "#777", "#c05621", "#0a6b2d", "#0b4f9c", "#999", "#7a4a00"] },
      link: { source: d.source, target: d.target, value: d.value }
    }], { margin: { t: 10, r: 10, b: 10, l: 10 }, font: { size: 14, color: "#111" } }, cfg);
  }
})();
