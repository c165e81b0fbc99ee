/* The replay frame: rrweb-player driven by the player page through postMessage.
 *
 * This document runs in <iframe sandbox="allow-scripts allow-same-origin"> under its
 * own CSP (script-src 'self', no network, no forms): only our scripts run here, and
 * rrweb rebuilds the recorded page in a nested iframe sandboxed without scripts that
 * inherits this CSP. It only ever talks to its parent window, on Sextant's origin.
 *
 * parent -> frame: {type: "hello"} | {type: "load", events, offset, speed, skipInactive, play}
 *                  | {type: "play"} | {type: "pause"} | {type: "seek", offset, play?}
 *                  | {type: "speed", value} | {type: "skip", value}
 * frame -> parent: {type: "ready"} | {type: "loaded", duration} | {type: "time", offset}
 *                  | {type: "state", playing} | {type: "finish"} | {type: "key", key}
 *                  | {type: "error", message}
 */
(function () {
  "use strict";
  var host = document.getElementById("player");
  var status = document.getElementById("status");
  var player = null;
  var playing = false;
  var skipInactive = false;

  function send(message) {
    window.parent.postMessage(message, window.location.origin);
  }

  function fail(message) {
    status.textContent = message;
    status.hidden = false;
    send({ type: "error", message: String(message) });
  }

  function load(message) {
    if (player) {
      try { player.pause(); player.$destroy(); } catch (e) { /* a broken player is replaced anyway */ }
      host.innerHTML = "";
    }
    var events = message.events || [];
    if (events.length < 2) {
      fail("This recording has no replayable events.");
      return;
    }
    skipInactive = !!message.skipInactive;
    try {
      player = new rrwebPlayer.Player({
        target: host,
        props: {
          events: events,
          width: window.innerWidth,
          height: window.innerHeight,
          autoPlay: false,
          showController: false,
          skipInactive: skipInactive,
          speed: message.speed || 1,
          mouseTail: { strokeStyle: "#f97316", lineWidth: 2, duration: 500 },
          // Replaying a recorded focus would move the keyboard focus into the replayed page,
          // where the player's shortcuts can no longer hear it.
          triggerFocus: false,
        },
      });
    } catch (e) {
      fail("The recording could not be replayed: " + e);
      return;
    }
    status.hidden = true;
    player.addEventListener("ui-update-current-time", function (event) {
      send({ type: "time", offset: Math.round(event.payload) });
    });
    player.addEventListener("ui-update-player-state", function (event) {
      playing = event.payload === "playing";
      send({ type: "state", playing: playing });
    });
    player.addEventListener("finish", function () {
      playing = false;
      send({ type: "finish" });
    });
    var meta = player.getMetaData();
    send({ type: "loaded", duration: meta.totalTime });
    player.goto(Math.max(0, message.offset || 0), !!message.play);
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== window.location.origin) return;
    var message = event.data || {};
    if (message.type === "hello") { send({ type: "ready" }); return; }
    if (message.type === "load") { load(message); return; }
    if (!player) return;
    switch (message.type) {
      case "play": player.play(); break;
      case "pause": player.pause(); break;
      case "seek": player.goto(Math.max(0, message.offset || 0), message.play === undefined ? playing : !!message.play); break;
      case "speed": player.setSpeed(message.value); break;
      case "skip":
        if (!!message.value !== skipInactive) { player.toggleSkipInactive(); skipInactive = !!message.value; }
        break;
    }
  });

  // Keys pressed while the replay has focus belong to the player page's shortcuts.
  window.addEventListener("keydown", function (event) {
    if (event.key === " " || event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      send({ type: "key", key: event.key });
    }
  });

  window.addEventListener("resize", function () {
    if (!player) return;
    player.$set({ width: window.innerWidth, height: window.innerHeight });
    player.triggerResize();
  });

  if (typeof rrwebPlayer === "undefined") {
    fail("The replay player could not be loaded.");
  } else {
    send({ type: "ready" });
  }
})();
