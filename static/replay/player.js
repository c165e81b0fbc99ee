/* The player page: fetches the snapshots (same origin, with the session cookie), hands
 * them to the sandboxed replay frame by postMessage, and drives it: play/pause, speed,
 * skip inactivity, seeking from the timeline and the side panel, keyboard shortcuts,
 * and the "link to this moment" URL (?t=<ms from the start>).
 * The frame protocol is described in frame.js. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("player-config").textContent);
  var frame = document.getElementById("replay-frame");
  var playButton = document.getElementById("rp-play");
  var currentLabel = document.getElementById("rp-current");
  var durationLabel = document.getElementById("rp-duration");
  var timeline = document.getElementById("rp-timeline");
  var progress = document.getElementById("rp-progress");
  var cursor = document.getElementById("rp-cursor");
  var skip = document.getElementById("rp-skip");
  var statusLine = document.getElementById("rp-status");
  var linkButton = document.getElementById("rp-link");
  var linkUrl = document.getElementById("rp-link-url");

  var state = {
    events: null,
    frameReady: false,
    loaded: false,
    playing: false,
    current: config.startOffset || 0,
    duration: config.durationMs || 0,
    speed: 1,
  };

  function post(message) {
    if (frame.contentWindow) frame.contentWindow.postMessage(message, window.location.origin);
  }

  function format(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function render() {
    var fraction = state.duration > 0 ? Math.min(1, state.current / state.duration) : 0;
    progress.style.width = (fraction * 100).toFixed(2) + "%";
    cursor.style.left = (fraction * 100).toFixed(2) + "%";
    currentLabel.textContent = format(state.current);
    durationLabel.textContent = format(state.duration);
    timeline.setAttribute("aria-valuenow", String(Math.round(state.current)));
    timeline.setAttribute("aria-valuetext", format(state.current));
    playButton.textContent = state.playing ? "❚❚ Pause" : "▶ Play";
    playButton.setAttribute("aria-label", state.playing ? "Pause" : "Play");
    document.body.dataset.replayOffset = String(Math.round(state.current));
    markPlayed();
    document.body.dataset.replayState = state.loaded ? (state.playing ? "playing" : "paused") : "loading";
  }

  // Side panel entries already played are dimmed and the latest one is highlighted;
  // classes change only when playback crosses an entry.
  var panels = Array.prototype.map.call(document.querySelectorAll(".rp-list"), function (list) {
    return { items: Array.prototype.slice.call(list.querySelectorAll("[data-seek]")), index: -2 };
  });
  function markPlayed() {
    panels.forEach(function (panel) {
      var items = panel.items, lo = 0, hi = items.length;
      while (lo < hi) {  // first entry after the current time
        var mid = (lo + hi) >> 1;
        if (Number(items[mid].dataset.seek) <= state.current) lo = mid + 1; else hi = mid;
      }
      var index = lo - 1;
      if (index === panel.index) return;
      panel.index = index;
      items.forEach(function (item, i) {
        item.classList.toggle("rp-played", i < index);
        item.classList.toggle("rp-current", i === index);
      });
    });
  }

  function maybeLoad() {
    if (!state.frameReady || !state.events || state.loaded) return;
    post({
      type: "load",
      events: state.events,
      offset: state.current,
      speed: state.speed,
      skipInactive: skip.checked,
      play: false,
    });
  }

  function seek(offset) {
    state.current = Math.max(0, Math.min(state.duration, Math.round(offset)));
    render();
    if (state.loaded) post({ type: "seek", offset: state.current });
  }

  function toggle() {
    if (!state.loaded) return;
    if (state.playing) {
      post({ type: "pause" });
    } else {
      if (state.current >= state.duration - 50) seek(0);
      post({ type: "play" });
    }
  }

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || event.origin !== window.location.origin) return;
    var message = event.data || {};
    switch (message.type) {
      case "ready":
        state.frameReady = true;
        maybeLoad();
        break;
      case "loaded":
        state.loaded = true;
        playButton.disabled = false;
        statusLine.textContent = "";
        break;
      case "time":
        state.current = message.offset;
        break;
      case "state":
        state.playing = !!message.playing;
        break;
      case "finish":
        state.playing = false;
        state.current = state.duration;
        break;
      case "key":
        handleKey(message.key);
        break;
      case "error":
        statusLine.textContent = message.message;
        break;
    }
    render();
  });

  // The frame may have loaded before this script: ask it to say it is ready.
  frame.addEventListener("load", function () { post({ type: "hello" }); });
  post({ type: "hello" });

  // A session with several browser windows is played one window at a time. The window's
  // events are put on the session's clock: a first (custom) event at the session's start
  // makes the frame's offsets the page's offsets.
  function load(windowId) {
    var url = config.snapshotsUrl + (windowId ? "?window_id=" + encodeURIComponent(windowId) : "");
    state.events = null;
    state.loaded = false;
    state.playing = false;
    playButton.disabled = true;
    statusLine.textContent = "Loading the recording…";
    render();
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the snapshots request answered " + response.status);
        return response.json();
      })
      .then(function (body) {
        var events = body.snapshots || [];
        if (events.length && events[0].timestamp > config.startMs) {
          events.unshift({ type: 5, timestamp: config.startMs, data: { tag: "sextant-session-start", payload: {} } });
        }
        state.events = events;
        maybeLoad();
      })
      .catch(function (error) {
        statusLine.textContent = "The recording could not be loaded: " + error.message;
      });
  }
  load(config.windowId);

  var windowSelect = document.getElementById("rp-window");
  if (windowSelect) {
    windowSelect.addEventListener("change", function () {
      if (state.loaded) post({ type: "pause" });
      load(windowSelect.value);
    });
  }

  playButton.addEventListener("click", toggle);

  document.querySelectorAll(".rp-speed").forEach(function (button) {
    button.addEventListener("click", function () {
      state.speed = Number(button.dataset.speed);
      document.querySelectorAll(".rp-speed").forEach(function (b) {
        var on = b === button;
        b.classList.toggle("active", on);
        b.setAttribute("aria-pressed", on ? "true" : "false");
      });
      post({ type: "speed", value: state.speed });
    });
  });

  skip.addEventListener("change", function () { post({ type: "skip", value: skip.checked }); });

  function seekFromPointer(event) {
    var box = timeline.getBoundingClientRect();
    var fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    seek(fraction * state.duration);
  }
  timeline.addEventListener("click", seekFromPointer);

  document.querySelectorAll("[data-seek]").forEach(function (item) {
    item.addEventListener("click", function () { seek(Number(item.dataset.seek)); });
  });

  function handleKey(key) {
    if (key === " ") toggle();
    else if (key === "ArrowLeft") seek(state.current - config.skipMs);
    else if (key === "ArrowRight") seek(state.current + config.skipMs);
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) return;
    if (event.key === " " && tag === "BUTTON") return; // space on a focused button clicks it
    if (event.key === " " || event.key === "ArrowLeft" || event.key === "ArrowRight") {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      handleKey(event.key);
    }
  });

  linkButton.addEventListener("click", function () {
    var url = config.momentUrl + "?t=" + Math.round(state.current);
    linkUrl.value = url;
    linkUrl.hidden = false;
    linkUrl.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(
        function () { statusLine.textContent = "Link copied."; },
        function () { /* the selected field is the fallback */ }
      );
    }
  });

  // Tabs of the side panel.
  var tabs = document.querySelectorAll(".rp-panel [role=tab]");
  tabs.forEach(function (tab) {
    tab.addEventListener("click", function () {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
      });
    });
  });

  render();
})();
