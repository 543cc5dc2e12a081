// dashcam UI client script (embedded, no build step). Jobs:
// 1. Times: every element with data-t (Unix ms UTC) and data-fmt is rewritten to the viewer's
//    local time ("datetime", "time", "date", "hm") or a relative age ("ago", refreshed).
// 2. Video: <video data-hls> plays natively when the browser can play HLS, else through the
//    embedded hls.js, loaded only when needed (its URL is data-hlsjs of this script tag).
//    Players inside a closed <details> start when it is opened.
// 3. Forms with data-tz get the viewer's time-zone offset (Date.getTimezoneOffset()) in "tzo";
//    their datetime-local inputs with data-t (Unix ms UTC) get that instant in local time.
// 4. A failed htmx request (4xx/5xx: htmx does not swap those) shows its one-line text in the
//    page's #flash area (as text, never as HTML).
// 5. Images with data-hide-on-error (trip thumbnails) are hidden when they cannot load.
// 6. Alert toasts (#alerts, filled by SSE): a [data-dismiss] button removes its toast; only the
//    newest MAX_ALERTS are kept.
(function () {
  "use strict";
  var me = document.currentScript;
  var hlsUrl = me && me.getAttribute("data-hlsjs");
  var pad = function (n) { return String(n).padStart(2, "0"); };

  function ago(ms) {
    var s = Math.round((Date.now() - ms) / 1000);
    if (s < 0) s = 0;
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 172800) return Math.floor(s / 3600) + " h " + pad(Math.floor((s % 3600) / 60)) + " min ago";
    return Math.floor(s / 86400) + " days ago";
  }

  function fmt(el) {
    var t = Number(el.getAttribute("data-t"));
    if (!isFinite(t)) return;
    var d = new Date(t);
    var date = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    var time = hm + ":" + pad(d.getSeconds());
    switch (el.getAttribute("data-fmt")) {
      case "ago": el.textContent = ago(t); el.setAttribute("title", date + " " + time); break;
      case "time": el.textContent = time; el.setAttribute("title", date); break;
      case "date": el.textContent = date; break;
      case "hm": el.textContent = hm; break;
      default: el.textContent = date + " " + time;
    }
  }

  function formatAll(root) {
    var els = root.querySelectorAll("[data-t][data-fmt]");
    for (var i = 0; i < els.length; i++) fmt(els[i]);
  }

  var hlsPromise = null;
  function loadHls() {
    if (window.Hls) return Promise.resolve(window.Hls);
    if (!hlsPromise) {
      hlsPromise = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = hlsUrl;
        s.onload = function () { resolve(window.Hls); };
        s.onerror = function () { reject(new Error("hls.js failed to load")); };
        document.head.appendChild(s);
      });
    }
    return hlsPromise;
  }

  function say(video, text) {
    var msg = video.parentNode && video.parentNode.querySelector(".player-msg");
    if (msg) { msg.textContent = text; msg.hidden = !text; }
  }

  function startPlayer(video) {
    if (video.getAttribute("data-mode")) return;
    var closed = video.closest("details:not([open])");
    if (closed) return;
    var src = video.getAttribute("data-hls");
    var start = video.getAttribute("data-start");
    var force = video.getAttribute("data-player") === "hlsjs";
    if (!force && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.setAttribute("data-mode", "native");
      video.src = src;
      if (start !== null) video.addEventListener("loadedmetadata", function () { video.currentTime = Number(start); }, { once: true });
      return;
    }
    video.setAttribute("data-mode", "hlsjs");
    loadHls().then(function (Hls) {
      if (!Hls || !Hls.isSupported()) { say(video, "This browser cannot play HLS video."); return; }
      var config = { enableWorker: true };
      if (start !== null) config.startPosition = Number(start);
      var hls = new Hls(config);
      hls.on(Hls.Events.ERROR, function (_e, data) {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR) { say(video, "Network error, retrying…"); hls.startLoad(); }
        else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); }
        else { say(video, "Playback failed: " + data.details); hls.destroy(); }
      });
      hls.on(Hls.Events.FRAG_LOADED, function () { say(video, ""); });
      hls.loadSource(src);
      hls.attachMedia(video);
      video._hls = hls;
    }, function (err) { say(video, String(err.message || err)); });
  }

  function startPlayers(root) {
    var vids = root.querySelectorAll("video[data-hls]");
    for (var i = 0; i < vids.length; i++) startPlayer(vids[i]);
  }

  function localInput(ms) {
    var d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function tzForms(root) {
    var forms = root.querySelectorAll("form[data-tz]");
    for (var i = 0; i < forms.length; i++) {
      var input = forms[i].querySelector('input[name="tzo"]');
      if (!input) continue;
      var times = forms[i].querySelectorAll('input[type="datetime-local"][data-t]');
      for (var j = 0; j < times.length; j++) {
        var t = Number(times[j].getAttribute("data-t"));
        if (isFinite(t)) times[j].value = localInput(t);
      }
      // offset of the instant itself (DST), else of now
      var first = times.length ? Number(times[0].getAttribute("data-t")) : NaN;
      input.value = String((isFinite(first) ? new Date(first) : new Date()).getTimezoneOffset());
    }
  }

  function flash(text, isError) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = "flash card" + (isError ? " error" : "");
    box.hidden = !text;
    if (text) box.scrollIntoView({ block: "nearest" });
  }

  function init(root) { formatAll(root); startPlayers(root); tzForms(root); }

  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail && e.detail.xhr;
    var text = xhr ? String(xhr.responseText || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim() : "";
    flash((text || (xhr ? xhr.status + " error" : "request failed")).slice(0, 300), true);
  });
  document.addEventListener("htmx:sendError", function () { flash("Cannot reach the dashcam. Check the Wi-Fi connection.", true); });
  document.addEventListener("htmx:beforeRequest", function () { flash("", false); });
  document.addEventListener("error", function (e) {
    var el = e.target;
    if (el && el.tagName === "IMG" && el.hasAttribute("data-hide-on-error")) el.hidden = true;
  }, true);

  var MAX_ALERTS = 3;
  document.addEventListener("click", function (e) {
    var btn = e.target && e.target.closest && e.target.closest("[data-dismiss]");
    if (!btn) return;
    var toast = btn.closest(".alert");
    if (toast) toast.remove();
  });
  function watchAlerts() {
    var box = document.getElementById("alerts");
    if (!box || !window.MutationObserver) return;
    new MutationObserver(function () {
      while (box.children.length > MAX_ALERTS) box.removeChild(box.lastElementChild);
    }).observe(box, { childList: true });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); watchAlerts(); });
  document.addEventListener("htmx:load", function (e) { if (e.target && e.target.querySelectorAll) formatAll(e.target); });
  document.addEventListener("htmx:afterSwap", function (e) { if (e.target && e.target.querySelectorAll) { formatAll(e.target); tzForms(e.target); } });
  document.addEventListener("toggle", function (e) { if (e.target && e.target.open) startPlayers(e.target); }, true);
  setInterval(function () {
    var els = document.querySelectorAll('[data-fmt="ago"]');
    for (var i = 0; i < els.length; i++) fmt(els[i]);
  }, 5000);
})();
