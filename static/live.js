// The live inbox: new mail shown without reloading. The page listens to /mail/events
// (Server-Sent Events, counts only) and fetches its new rows with an ordinary request;
// without EventSource, or once the stream is refused, it looks every 60 s instead.
(function () {
  "use strict";

  var source = null, polling = null, live = null, reloading = null;

  function say(count) {
    var status = document.getElementById("live-status");
    if (!status) { return; }
    var text = count === 1 ? live.getAttribute("data-one") : live.getAttribute("data-many");
    status.textContent = text.replace("{n}", String(count));
  }

  function setUnread(count) {
    // The page's own title, read now: a swap (the reading pane, a boosted link) may have
    // changed it since the stream started.
    document.title = (count > 0 ? "(" + count + ") " : "") + document.title.replace(/^\(\d+\) /, "");
    var link = document.querySelector(".folders a[aria-current=page]");
    if (!link) { return; }
    var badge = link.querySelector(".count");
    if (count > 0 && !badge) {
      badge = document.createElement("span");
      badge.className = "count";
      link.appendChild(badge);
    }
    if (!badge) { return; }
    if (count > 0) {
      badge.textContent = String(count);
      badge.setAttribute("aria-label", live.getAttribute("data-unread").replace("{n}", String(count)));
    } else {
      badge.remove();
    }
  }

  // The rows of the fresh first page that this page lacks, each put after the row it
  // follows there; the row at the top of the screen stays where it is.
  function insert(html) {
    var rows = document.querySelector("#message-list .rows");
    if (!rows) { return; }
    var shown = {};
    Array.prototype.forEach.call(rows.querySelectorAll("li[data-uid]"), function (row) {
      shown[row.getAttribute("data-uid")] = row;
    });
    var anchor = Array.prototype.find.call(rows.children, function (row) {
      return row.getBoundingClientRect().top >= 0;
    });
    var anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var cursor = null, added = 0;
    Array.prototype.forEach.call(fresh.querySelectorAll(".rows > li[data-uid]"), function (row) {
      var known = shown[row.getAttribute("data-uid")];
      if (known) { cursor = known; return; }
      var node = document.importNode(row, true);
      if (cursor) { cursor.after(node); } else { rows.prepend(node); }
      cursor = node;
      added += 1;
      if (window.htmx) { window.htmx.process(node); }
    });
    if (!added) { return; }
    var empty = document.querySelector("#message-list .empty");
    if (empty) { empty.remove(); }
    if (anchor && window.scrollY > 0) {
      window.scrollBy(0, anchor.getBoundingClientRect().top - anchorTop);
    }
    say(added);
  }

  function refresh() {
    if (!live || live.getAttribute("data-first-page") !== "1") { return; }
    // X-MSS-Background: not the user's activity, the session's idle lock keeps counting.
    fetch(live.getAttribute("data-rows"), {
      headers: { "HX-Request": "true", "X-MSS-Background": "1" }, credentials: "same-origin"
    })
      .then(function (response) {
        var redirect = response.headers.get("HX-Redirect");
        if (redirect) { window.location.assign(redirect); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) { if (html) { insert(html); } })
      .catch(function () { /* offline: the next event or poll tries again */ });
  }

  function stop() {
    if (reloading) { clearTimeout(reloading); reloading = null; }
    if (source) { source.close(); source = null; }
    if (polling) { clearInterval(polling); polling = null; }
  }

  function poll() {
    if (!polling) { polling = setInterval(refresh, 60000); }
  }

  function counts(event) {
    try { setUnread(JSON.parse(event.data).unseen); } catch (e) { /* malformed: ignored */ }
  }

  // On every page, also those htmx swaps in (hx-boost): listen for the folder shown, if any.
  function start() {
    live = document.getElementById("live");
    var url = live ? live.getAttribute("data-events") : null;
    if (source && source.url.indexOf(url) !== -1 && url) { return; }
    stop();
    if (!url) { return; }
    if (!window.EventSource) { poll(); return; }
    source = new EventSource(url);
    source.addEventListener("unread", counts);
    source.addEventListener("mail", function (event) { counts(event); refresh(); });
    // The session ended. When this page ended it (logout), its own navigation is under way
    // and must win: the reload waits a moment, and a page swapped in meanwhile cancels it.
    source.addEventListener("reload", function () {
      stop();
      reloading = setTimeout(function () { window.location.reload(); }, 1500);
    });
    source.addEventListener("error", function () {
      if (source && source.readyState === EventSource.CLOSED) { source = null; poll(); }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:afterSettle", start);
  window.addEventListener("pagehide", stop);
})();
