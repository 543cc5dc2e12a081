// dashcam UI client script (embedded, no build step). Jobs:
// 1. Times: every element with data-t (Unix ms UTC) and data-fmt is rewritten to the viewer's
//    local time ("datetime", "time", "date", "hm", "when") or a relative age ("ago", refreshed),
//    always on a 24 h clock. Links with data-tzo get the viewer's offset as ?tzo= (download names).
// 2. Video: <video data-hls> plays through the embedded hls.js (loaded only when needed; its URL
//    is data-hlsjs of this script tag) wherever Media Source Extensions exist, else natively (iOS
//    Safari before 17.1). Native HLS is not preferred where MSE exists: Chromium's own HLS player
//    cannot parse MPEG-TS segments (DEMUXER_ERROR_COULD_NOT_PARSE) and showed a black box.
//    A failure shows its message and a Retry button. Players inside a closed <details> start when
//    it is opened.
// 2b. Live view: <video data-live> inside [data-live-player] plays the camera's live MPEG-TS
//    WebSocket with the embedded mpegts.js (data-mpegts of this script tag), chasing the live edge;
//    without MSE it falls back to the live HLS playlist (data-fallback). Errors, a stream that ends
//    and a picture that does not come or freezes show a message with a Retry button and reconnect
//    with backoff; data-state on the box is "connecting", "playing" or "error".
// 3. Forms with data-tz get the viewer's time-zone offset (Date.getTimezoneOffset()) in "tzo";
//    their date + time fieldsets with data-t (Unix ms UTC, components/DateTime.tsx) get that
//    instant's local date and 24 h time (HH:MM:SS).
// 4. A failed htmx request (4xx/5xx: htmx does not swap those) shows its one-line text in the
//    page's #flash area (as text, never as HTML).
// 5. Images with data-hide-on-error (trip thumbnails) are hidden when they cannot load.
// 6. Alert toasts (#alerts, filled by SSE): a [data-dismiss] button removes its toast; only the
//    newest MAX_ALERTS are kept.
(function () {
  "use strict";
  var me = document.currentScript;
  var hlsUrl = me && me.getAttribute("data-hlsjs");
  var mpegtsUrl = me && me.getAttribute("data-mpegts");
  var swUrl = me && me.getAttribute("data-sw");
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
      case "when": el.textContent = dayWord(d) + " " + hm; el.setAttribute("title", date + " " + time); break;
      default: el.textContent = date + " " + time;
    }
  }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function dayWord(d) {
    var today = new Date(); today.setHours(0, 0, 0, 0);
    var day = new Date(d.getTime()); day.setHours(0, 0, 0, 0);
    var diff = Math.round((today.getTime() - day.getTime()) / 86400000);
    if (diff === 0) return "today";
    if (diff === 1) return "yesterday";
    return d.getDate() + " " + MONTHS[d.getMonth()];
  }

  function formatAll(root) {
    var els = root.querySelectorAll("[data-t][data-fmt]");
    for (var i = 0; i < els.length; i++) fmt(els[i]);
    var links = root.querySelectorAll("a[data-tzo]");
    for (var j = 0; j < links.length; j++) {
      var href = links[j].getAttribute("href");
      if (!href || /[?&]tzo=/.test(href)) continue;
      links[j].setAttribute("href", href + (href.indexOf("?") < 0 ? "?" : "&") + "tzo=" + new Date().getTimezoneOffset());
    }
  }

  var scripts = {};
  /** Loads an embedded script once and resolves with the global it defines (window[name]). */
  function loadScript(url, name) {
    if (window[name]) return Promise.resolve(window[name]);
    if (!scripts[name]) {
      scripts[name] = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = url;
        s.onload = function () { resolve(window[name]); };
        s.onerror = function () { delete scripts[name]; reject(new Error(name + " failed to load")); };
        document.head.appendChild(s);
      });
    }
    return scripts[name];
  }

  function say(video, text, retry) {
    var box = video.parentNode;
    var msg = box && box.querySelector(".player-msg");
    if (msg) { msg.textContent = text; msg.hidden = !text; }
    var btn = box && box.querySelector("[data-player-retry]");
    if (btn) btn.hidden = !retry;
  }

  /** True where Media Source Extensions (or Apple's ManagedMediaSource) exist. */
  function hasMse() { return !!(window.MediaSource || window.ManagedMediaSource || window.WebKitMediaSource); }

  function startPlayer(video) {
    if (video.getAttribute("data-mode")) return;
    var closed = video.closest("details:not([open])");
    if (closed) return;
    var src = video.getAttribute("data-hls");
    var start = video.getAttribute("data-start");
    var force = video.getAttribute("data-player") === "hlsjs";
    var retry = function () {
      if (video._hls) { video._hls.destroy(); video._hls = null; }
      video.removeAttribute("data-mode");
      say(video, "", false);
      startPlayer(video);
    };
    var btn = video.parentNode && video.parentNode.querySelector("[data-player-retry]");
    if (btn && !btn._bound) { btn._bound = true; btn.addEventListener("click", retry); }
    if (!force && !hasMse() && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.setAttribute("data-mode", "native");
      video.src = src;
      video.addEventListener("error", function () {
        var e = video.error;
        say(video, "Playback failed" + (e && e.message ? ": " + e.message : "") + ".", true);
      }, { once: true });
      if (start !== null) video.addEventListener("loadedmetadata", function () { video.currentTime = Number(start); }, { once: true });
      return;
    }
    video.setAttribute("data-mode", "hlsjs");
    loadScript(hlsUrl, "Hls").then(function (Hls) {
      if (!Hls || !Hls.isSupported()) { say(video, "This browser cannot play HLS video.", false); return; }
      var config = { enableWorker: true };
      if (start !== null) config.startPosition = Number(start);
      var hls = new Hls(config);
      hls.on(Hls.Events.ERROR, function (_e, data) {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR) { say(video, "Network error, retrying…", true); hls.startLoad(); }
        else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); }
        else { say(video, "Playback failed: " + data.details, true); hls.destroy(); }
      });
      hls.on(Hls.Events.FRAG_LOADED, function () { say(video, "", false); });
      hls.loadSource(src);
      hls.attachMedia(video);
      video._hls = hls;
    }, function (err) { say(video, String(err.message || err), true); });
  }

  // ---- live view ----
  /** No picture this long after connecting, or a picture frozen this long, is an error (ms). */
  var LIVE_NO_PICTURE_MS = 8000;
  var LIVE_FROZEN_MS = 6000;
  /** Automatic reconnect delays (ms), the last one repeating. */
  var LIVE_RETRY_MS = [1000, 2000, 4000, 8000, 15000];

  function liveStatus(box, state, text, retry) {
    box.setAttribute("data-state", state);
    var status = box.querySelector(".player-status");
    var msg = box.querySelector(".player-msg");
    var btn = box.querySelector("[data-player-retry]");
    if (msg) msg.textContent = text || "";
    if (btn) btn.hidden = !retry;
    if (status) status.hidden = !text;
  }

  function describeLiveError(type, detail, info) {
    var what = (info && (info.msg || info.code)) || detail || type || "unknown error";
    if (type === "NetworkError") return "Cannot reach the live stream (" + what + "). Retrying…";
    if (type === "MediaError") return "The browser could not decode the live stream (" + what + "). Retrying…";
    return "Live view failed (" + what + "). Retrying…";
  }

  function startLive(video) {
    var box = video.closest("[data-live-player]");
    if (!box || box._live) return;
    var ctl = { player: null, fallback: false, timers: [], attempts: 0, lastTime: -1, lastMove: 0 };
    box._live = ctl;
    var btn = box.querySelector("[data-player-retry]");
    if (btn) btn.addEventListener("click", function () { ctl.attempts = 0; liveStatus(box, "connecting", "Connecting…", false); connect(); });

    function clearTimers() { while (ctl.timers.length) clearTimeout(ctl.timers.pop()); }
    function teardown() {
      clearTimers();
      if (ctl.player) {
        var p = ctl.player;
        ctl.player = null;
        try { p.pause(); p.unload(); p.detachMediaElement(); p.destroy(); } catch (e) { /* already gone */ }
      }
    }
    function fail(text) {
      teardown();
      liveStatus(box, "error", text, true);
      var delay = LIVE_RETRY_MS[Math.min(ctl.attempts, LIVE_RETRY_MS.length - 1)];
      ctl.attempts++;
      ctl.timers.push(setTimeout(connect, delay));
    }
    function fallbackHls() {
      ctl.fallback = true;
      video.setAttribute("data-hls", video.getAttribute("data-fallback"));
      liveStatus(box, "connecting", "", false);
      startPlayer(video);
    }
    function connect() {
      teardown();
      if (ctl.fallback) return;
      if (box.getAttribute("data-state") !== "error") liveStatus(box, "connecting", "Connecting…", false);
      loadScript(mpegtsUrl, "mpegts").then(function (m) {
        if (!m || !m.getFeatureList().mseLivePlayback) { fallbackHls(); return; }
        var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + video.getAttribute("data-live");
        var p = m.createPlayer({ type: "mpegts", isLive: true, url: url }, {
          enableWorker: false,
          enableStashBuffer: false,
          lazyLoad: false,
          // far behind (a burst, a stall): jump to 0.3 s before the live edge; slightly behind
          // (joined mid-GOP, network jitter): play at 1.2x until 0.3 s behind
          liveBufferLatencyChasing: true,
          liveBufferLatencyMaxLatency: 1.5,
          liveBufferLatencyMinRemain: 0.3,
          liveSync: true,
          liveSyncMaxLatency: 0.6,
          liveSyncTargetLatency: 0.3,
          liveSyncPlaybackRate: 1.2,
          autoCleanupSourceBuffer: true,
          autoCleanupMaxBackwardDuration: 20,
          autoCleanupMinBackwardDuration: 10
        });
        ctl.player = p;
        ctl.lastTime = -1;
        ctl.lastMove = Date.now();
        p.on(m.Events.ERROR, function (type, detail, info) { if (ctl.player === p) fail(describeLiveError(type, detail, info)); });
        p.on(m.Events.LOADING_COMPLETE, function () { if (ctl.player === p) fail("The live stream stopped (the camera stopped or is restarting). Reconnecting…"); });
        p.attachMediaElement(video);
        p.load();
        var played = video.play();
        if (played && played.catch) played.catch(function () { /* autoplay refused: the controls still work */ });
        ctl.timers.push(setTimeout(function check() {
          if (ctl.player !== p) return;
          var state = box.getAttribute("data-state");
          if (state !== "playing" && Date.now() - ctl.lastMove > LIVE_NO_PICTURE_MS) { fail("No picture from the camera. Retrying…"); return; }
          if (state === "playing" && !video.paused && Date.now() - ctl.lastMove > LIVE_FROZEN_MS) { fail("The picture stopped moving. Reconnecting…"); return; }
          ctl.timers.push(setTimeout(check, 1000));
        }, 1000));
      }, function () { fail("The live player could not be loaded. Retrying…"); });
    }
    video.addEventListener("timeupdate", function () {
      if ((!ctl.player && !ctl.fallback) || video.currentTime === ctl.lastTime) return;
      ctl.lastTime = video.currentTime;
      ctl.lastMove = Date.now();
      if (video.readyState >= 2 && box.getAttribute("data-state") !== "playing") {
        ctl.attempts = 0;
        liveStatus(box, "playing", "", false);
      }
    });
    // a hidden page (phone locked, other tab) does not keep the camera's stream flowing
    document.addEventListener("visibilitychange", function () {
      if (ctl.fallback) return;
      if (document.hidden) { teardown(); liveStatus(box, "connecting", "Paused while the page is hidden", false); }
      else if (!ctl.player) { ctl.attempts = 0; liveStatus(box, "connecting", "Connecting…", false); connect(); }
    });
    connect();
  }

  function startLivePlayers(root) {
    var vids = root.querySelectorAll("video[data-live]");
    for (var i = 0; i < vids.length; i++) startLive(vids[i]);
  }

  function startPlayers(root) {
    var vids = root.querySelectorAll("video[data-hls]");
    for (var i = 0; i < vids.length; i++) startPlayer(vids[i]);
  }

  function tzForms(root) {
    var forms = root.querySelectorAll("form[data-tz]");
    for (var i = 0; i < forms.length; i++) {
      var input = forms[i].querySelector('input[name="tzo"]');
      if (!input) continue;
      var times = forms[i].querySelectorAll("fieldset.datetime[data-t]");
      for (var j = 0; j < times.length; j++) {
        var t = Number(times[j].getAttribute("data-t"));
        var day = times[j].querySelector('input[type="date"]');
        var clock = times[j].querySelector('input[type="text"]');
        if (!isFinite(t) || !day || !clock) continue;
        var d = new Date(t);
        day.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
        clock.value = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
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

  function init(root) { formatAll(root); startPlayers(root); startLivePlayers(root); tzForms(root); }

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

  // 9. The tab bar's "More" menu (<details class="more">) closes on a tap outside it or Escape.
  function closeMore(except) {
    var open = document.querySelectorAll("details.more[open]");
    for (var i = 0; i < open.length; i++) if (open[i] !== except) open[i].open = false;
  }
  document.addEventListener("click", function (e) { closeMore(e.target && e.target.closest ? e.target.closest("details.more") : null); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeMore(null); });

  var MAX_ALERTS = 3;
  document.addEventListener("click", function (e) {
    var btn = e.target && e.target.closest && e.target.closest("[data-dismiss]");
    if (!btn) return;
    var toast = btn.closest(".alert");
    if (toast) toast.remove();
  });
  // "Copy link" (button[data-copy], the Shares page): the Clipboard API needs a secure context
  // (HTTPS or localhost); over the car's plain-HTTP Wi-Fi the text is selected and copied instead.
  document.addEventListener("click", function (e) {
    var btn = e.target && e.target.closest && e.target.closest("[data-copy]");
    if (!btn) return;
    var text = btn.getAttribute("data-copy");
    var done = function () { flash("Link copied.", false); };
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done, function () { flash("Copy failed: select the link and copy it.", true); }); return; }
    var input = btn.parentNode && btn.parentNode.querySelector("input");
    if (input) { input.focus(); input.select(); }
    try { if (document.execCommand("copy")) done(); } catch (err) { flash("Select the link and copy it.", true); }
  });
  function watchAlerts() {
    var box = document.getElementById("alerts");
    if (!box || !window.MutationObserver) return;
    new MutationObserver(function () {
      while (box.children.length > MAX_ALERTS) box.removeChild(box.lastElementChild);
    }).observe(box, { childList: true });
  }

  // 7. The service worker (app shell only: hashed /assets/*, see src/web/routes/pwa.ts).
  function registerServiceWorker() {
    if (!swUrl || !("serviceWorker" in navigator) || !window.isSecureContext) return;
    navigator.serviceWorker.register(swUrl, { scope: "/" }).catch(function () { /* the app works without it */ });
  }

  // 8. Camera pictures (img[data-refresh], CameraThumb.tsx) reload every N seconds while visible.
  function refreshPictures() {
    if (document.hidden) return;
    var imgs = document.querySelectorAll("img[data-refresh]");
    var now = Date.now();
    for (var i = 0; i < imgs.length; i++) {
      var img = imgs[i];
      var every = Number(img.getAttribute("data-refresh")) * 1000;
      var last = Number(img.getAttribute("data-loaded-at") || now);
      if (!img.hasAttribute("data-loaded-at")) { img.setAttribute("data-loaded-at", String(now)); continue; }
      if (!(every > 0) || now - last < every) continue;
      var base = img.getAttribute("src").replace(/[?&]r=\d+$/, "");
      img.hidden = false;
      img.setAttribute("data-loaded-at", String(now));
      img.setAttribute("src", base + (base.indexOf("?") < 0 ? "?" : "&") + "r=" + now);
    }
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); watchAlerts(); registerServiceWorker(); });
  setInterval(refreshPictures, 5000);
  document.addEventListener("htmx:load", function (e) { if (e.target && e.target.querySelectorAll) formatAll(e.target); });
  document.addEventListener("htmx:afterSwap", function (e) { if (e.target && e.target.querySelectorAll) { formatAll(e.target); tzForms(e.target); startLivePlayers(e.target); } });
  document.addEventListener("toggle", function (e) { if (e.target && e.target.open) startPlayers(e.target); }, true);
  setInterval(function () {
    var els = document.querySelectorAll('[data-fmt="ago"]');
    for (var i = 0; i < els.length; i++) fmt(els[i]);
  }, 5000);
})();
