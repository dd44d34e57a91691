// Filing an audit: each answer (and its comment) goes to the server as it is given, and is
// retried when the connection returns. Without this script the Save and Submit buttons send
// the whole page.
(function () {
  "use strict";
  var form = document.querySelector("[data-audit]");
  if (!form) return;
  var saveUrl = form.getAttribute("data-save-url");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var msg = function (name) { return form.getAttribute("data-msg-" + name) || ""; };
  var pending = {};
  var timers = {};

  function box(id) { return form.querySelector("[data-item='" + id + "']"); }
  function setState(id, text) {
    var el = box(id).querySelector("[data-save-state]");
    if (el) el.textContent = text;
  }

  function send(id) {
    var item = box(id);
    var data = new FormData();
    data.append("csrf_token", csrf);
    data.append("item", id);
    var checked = item.querySelector("input[type=radio]:checked");
    var field = item.querySelector("input[name='r." + id + "']:not([type=radio]), textarea[name='r." + id + "']");
    data.append("value", checked ? checked.value : (field ? field.value : ""));
    var comment = item.querySelector("textarea[name='c." + id + "']");
    if (comment) data.append("comment", comment.value);
    pending[id] = true;
    item.removeAttribute("data-saved");
    setState(id, msg("saving"));
    return fetch(saveUrl, { method: "POST", body: data, credentials: "same-origin",
                            headers: { "X-CSRFToken": csrf, "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (!body.ok) { delete pending[id]; setState(id, body.error || msg("unsaved")); return; }
        delete pending[id];
        item.setAttribute("data-saved", "");
        setState(id, msg("saved"));
      })
      .catch(function () { setState(id, msg("unsaved")); });
  }

  function later(id, wait) {
    clearTimeout(timers[id]);
    timers[id] = setTimeout(function () { send(id); }, wait);
  }

  form.addEventListener("change", function (event) {
    if (event.target.type === "file") return;
    var item = event.target.closest("[data-item]");
    if (item) later(item.getAttribute("data-item"), 0);
  });
  form.addEventListener("input", function (event) {
    var item = event.target.closest("[data-item]");
    if (item && (event.target.tagName === "TEXTAREA" || event.target.type === "text")) {
      later(item.getAttribute("data-item"), 800);
    }
  });
  function retry() { Object.keys(pending).forEach(send); }
  window.addEventListener("online", retry);
  setInterval(function () { if (navigator.onLine !== false) retry(); }, 15000);

  // Choosing a photo uploads it straight away (the Upload button is for browsers without JS).
  document.querySelectorAll("[data-photo-input]").forEach(function (input) {
    var upload = input.form && input.form.id ? document.querySelector("button[form='" + input.form.id + "']") : null;
    if (upload) upload.hidden = true;
    var maxBytes = parseInt(form.getAttribute("data-photo-max"), 10) || 0;
    input.addEventListener("change", function () {
      if (!input.files.length) return;
      if (maxBytes && input.files[0].size > maxBytes) {  // refused here rather than after a long upload
        var item = input.closest("[data-item]");
        if (item) setState(item.getAttribute("data-item"), msg("photo-too-large"));
        input.value = "";
        return;
      }
      input.form.submit();
    });
  });

  form.addEventListener("submit", function () {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { setTimeout(function () { b.disabled = true; }, 0); });
  });
})();
