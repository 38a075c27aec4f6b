// The compose form never loses a word: it saves itself to Drafts while the user types
// (views/autosave.py), ten seconds after a change and when the page is hidden or left.
// Without this script the "Enregistrer le brouillon" button does the same.
(function () {
  "use strict";
  if (window.mssCompose) { window.mssCompose(document); return; }  // loaded again by htmx

  var IDLE_MS = 10000;

  function payload(form) {
    var data = new FormData(form);
    var files = [];
    data.forEach(function (value, name) { if (value instanceof File) { files.push(name); } });
    files.forEach(function (name) { data.delete(name); });  // new files go with the send
    data.set("action", "autosave");
    return data;
  }

  function bind(root) {
    var form = root.querySelector ? root.querySelector("form[data-autosave]") : null;
    if (!form || form.mssAutosave) { return; }
    form.mssAutosave = true;
    var url = form.getAttribute("data-autosave");
    var status = document.getElementById("autosave-status");
    var token = form.querySelector("input[name=csrf_token]");
    var state = { dirty: false, stopped: false, timer: null };

    function show(text) { if (status) { status.textContent = text; } }

    function answered(response, text) {
      var line = new DOMParser().parseFromString(text, "text/html").querySelector(".autosave-state");
      if (response.status === 409) { state.stopped = true; }  // sent already: never again
      if (!response.ok) { state.dirty = response.status !== 409; }
      show(line ? line.textContent : status.getAttribute("data-failed"));
    }

    function save(leaving) {
      if (!state.dirty || state.stopped) { return; }
      state.dirty = false;
      var data = payload(form);
      if (leaving && navigator.sendBeacon && navigator.sendBeacon(url, data)) { return; }
      fetch(url, { method: "POST", body: data, credentials: "same-origin", keepalive: leaving,
                   headers: { "X-CSRF-Token": token ? token.value : "" } })
        .then(function (response) {
          return response.text().then(function (text) { answered(response, text); });
        })
        .catch(function () { state.dirty = true; show(status.getAttribute("data-failed")); });
    }

    form.addEventListener("input", function () {
      state.dirty = true;
      if (!state.timer) {
        state.timer = setTimeout(function () { state.timer = null; save(false); }, IDLE_MS);
      }
    });
    // Sending or saving by hand: an autosave arriving after it must not race it.
    form.addEventListener("submit", function () {
      state.stopped = true;
      if (state.timer) { clearTimeout(state.timer); }
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { save(true); }
    });
    window.addEventListener("pagehide", function () { save(true); });
    // A boosted link leaves the page without a pagehide.
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.boosted && document.body.contains(form)) { save(true); }
    });
  }

  // "Envoi dans 10 s — Annuler": count down, then ask the server what became of it.
  function countDown(root) {
    var line = root.querySelector ? root.querySelector(".undo-send-countdown") : null;
    if (!line || line.mssCounting) { return; }
    line.mssCounting = true;
    var left = parseInt(line.getAttribute("data-seconds"), 10) || 0;
    var status = document.querySelector("a.undo-send-status");
    var tick = setInterval(function () {
      left -= 1;
      if (!document.body.contains(line)) { clearInterval(tick); return; }
      if (left > 0) {
        line.textContent = line.getAttribute("data-template").replace("{n}", String(left));
        return;
      }
      clearInterval(tick);
      if (status) { window.location.assign(status.href); }
    }, 1000);
  }

  window.mssCompose = function (root) { bind(root); countDown(root); };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { window.mssCompose(document); });
  } else {
    window.mssCompose(document);
  }
  document.addEventListener("htmx:load", function (event) { window.mssCompose(event.target); });
})();
