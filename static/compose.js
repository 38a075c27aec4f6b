// The compose form never loses a word: it saves itself to Drafts while the user types
// (views/autosave.py), ten seconds after a change and when the page is hidden or left.
// Without this script the "Enregistrer le brouillon" button does the same.
(function () {
  "use strict";
  if (window.mssCompose) { return; }  // loaded once per page, from base.html

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
    bindEditor(form);
    bindFiles(form);
    bindProgress(form);
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

  // "Mise en forme": a per-message toggle between the textarea (plain text, the default)
  // and a small editor. The server cleans its HTML (webmail/mail/rich_text.py) and makes the
  // text alternative; the textarea is kept in step so the words survive anything.
  function paragraphs(text) {
    var fragment = document.createDocumentFragment();
    text.replace(/\r\n/g, "\n").split(/\n[ \t]*\n/).forEach(function (block) {
      if (!block.trim()) { return; }
      var p = document.createElement("p");
      block.split("\n").forEach(function (line, index) {
        if (index) { p.appendChild(document.createElement("br")); }
        p.appendChild(document.createTextNode(line));
      });
      fragment.appendChild(p);
    });
    return fragment;
  }

  function bindEditor(form) {
    var format = form.querySelector("input[name=format]");
    var markup = form.querySelector("input[name=body_html]");
    var textarea = form.querySelector("textarea[name=body]");
    var toggle = form.querySelector(".rich-toggle");
    var template = document.getElementById("rich-editor-template");
    if (!format || !markup || !textarea || !toggle || !template || !document.execCommand) { return; }
    var box = toggle.querySelector("input");
    var editor = template.content.firstElementChild.cloneNode(true);
    var area = editor.querySelector(".rich-area");
    editor.hidden = true;
    textarea.parentNode.insertBefore(editor, textarea.nextSibling);
    toggle.hidden = false;

    function rich() { return format.value === "html"; }
    function sync() {
      if (!rich()) { return; }
      markup.value = area.innerHTML;
      textarea.value = area.innerText;
    }
    function show(on, quiet) {
      if (on) {
        area.textContent = "";
        if (markup.value && format.getAttribute("data-initial") === "html") {
          area.innerHTML = markup.value;  // the server's sanitised copy, never raw input
        } else {
          area.appendChild(paragraphs(textarea.value));
        }
        format.setAttribute("data-initial", "");
        format.value = "html";
        sync();
      } else {
        sync();
        format.value = "";
        markup.value = "";
      }
      box.checked = on;
      editor.hidden = !on;
      textarea.hidden = on;
      if (!quiet) { form.dispatchEvent(new Event("input")); }  // the mode is part of the draft
    }

    box.addEventListener("change", function () { show(box.checked); if (box.checked) { area.focus(); } });
    area.addEventListener("input", sync);
    form.addEventListener("formdata", function (event) {
      if (!rich()) { return; }
      event.formData.set("body_html", area.innerHTML);
      event.formData.set("body", area.innerText);
    });
    Array.prototype.forEach.call(editor.querySelectorAll("button[data-command]"), function (button) {
      // Keep the selection in the text: a tap on the button would take it away.
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });
      button.addEventListener("click", function () {
        var command = button.getAttribute("data-command");
        var value = null;
        if (command === "createLink") {
          value = window.prompt(button.getAttribute("data-prompt"), "https://");
          if (!value || !/^(https?:\/\/|mailto:)/i.test(value.trim())) { return; }
          value = value.trim();
        }
        area.focus();
        document.execCommand(command, false, value);
        sync();
        form.dispatchEvent(new Event("input"));
      });
    });
    if (format.getAttribute("data-initial") === "html") { show(true, true); }
  }

  // Attachments: choosing files again adds to the list, each one can be taken out before
  // sending, and the upload shows its progress. Without script, the plain multipart form.
  function sizeText(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " Mo" : Math.ceil(bytes / 1024) + " ko";
  }

  function bindFiles(form) {
    var input = form.querySelector("input#attachments");
    var list = form.querySelector("#chosen-files");
    if (!input || !list || typeof DataTransfer === "undefined") { return; }
    var chosen = [];
    var ours = false;
    function render() {
      var transfer = new DataTransfer();
      chosen.forEach(function (file) { transfer.items.add(file); });
      input.files = transfer.files;
      list.textContent = "";
      chosen.forEach(function (file, index) {
        var item = document.createElement("li");
        item.className = "chosen-file";
        var name = document.createElement("span");
        name.textContent = file.name + " (" + sizeText(file.size) + ")";
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "btn btn-small chosen-file-remove";
        remove.textContent = list.getAttribute("data-remove");
        remove.setAttribute("aria-label", list.getAttribute("data-remove") + " " + file.name);
        remove.addEventListener("click", function () {
          chosen.splice(index, 1);
          render();
          ours = true;
          input.dispatchEvent(new Event("change"));  // the size check looks again
          ours = false;
        });
        item.appendChild(name);
        item.appendChild(remove);
        list.appendChild(item);
      });
      list.hidden = chosen.length === 0;
    }
    input.addEventListener("change", function (event) {
      if (ours) { return; }  // our own, after a removal
      var known = input.files ? Array.prototype.slice.call(input.files) : [];
      known.forEach(function (file) {
        var twice = chosen.some(function (f) {
          return f.name === file.name && f.size === file.size && f.lastModified === file.lastModified;
        });
        if (!twice) { chosen.push(file); }
      });
      render();
    });
  }

  function totalSize(form) {
    var total = 0;
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (input) {
      Array.prototype.forEach.call(input.files || [], function (file) { total += file.size; });
    });
    return total;
  }

  // With files to upload, the form goes by XMLHttpRequest to show the upload's progress;
  // the answer replaces the page as a normal submission would.
  function bindProgress(form) {
    var bar = form.querySelector("#upload-progress");
    if (!bar || typeof XMLHttpRequest === "undefined") { return; }
    form.addEventListener("submit", function (event) {
      var size = totalSize(form);
      var limit = parseInt(form.getAttribute("data-max-upload"), 10);
      if (event.defaultPrevented || size === 0 || size > limit) { return; }
      event.preventDefault();
      var data = new FormData(form);
      if (event.submitter && event.submitter.name) {
        data.set(event.submitter.name, event.submitter.value);
      }
      // Not form.action: the buttons named "action" shadow it.
      var target = new URL(form.getAttribute("action"), window.location.href).href;
      var request = new XMLHttpRequest();
      request.open("POST", target);
      request.upload.onprogress = function (progress) {
        if (progress.lengthComputable) { bar.value = Math.round(100 * progress.loaded / progress.total); }
      };
      request.onload = function () {
        if (request.responseURL && request.responseURL.split("#")[0] !== target) {
          window.location.assign(request.responseURL);  // redirected: go there (a GET)
          return;
        }
        document.open();
        document.write(request.responseText);
        document.close();
      };
      request.onerror = function () {
        bar.hidden = true;
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
        var failed = form.querySelector("#upload-failed");
        if (failed) { failed.hidden = false; }
      };
      bar.hidden = false;
      bar.value = 0;
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      request.send(data);
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
