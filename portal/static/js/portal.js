/* Small progressive enhancements; every page works without this script. */
(function () {
  "use strict";
  var LIST = "portal-offline-list";

  function readList() {
    try { return JSON.parse(localStorage.getItem(LIST) || "[]"); } catch (e) { return []; }
  }
  function writeList(items) {
    try { localStorage.setItem(LIST, JSON.stringify(items.slice(0, 60))); } catch (e) { /* full */ }
  }
  function remember(path, title, saved) {
    var items = readList().filter(function (i) { return i.path !== path; });
    var old = readList().find(function (i) { return i.path === path; });
    items.unshift({ path: path, title: title, saved: saved || (old && old.saved) || false, at: Date.now() });
    writeList(items);
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
    // Each page load: the worker re-keeps the offline page (in this page's language) if it is gone.
    var pageLang = document.documentElement.lang === "en" ? "en" : "zh_CN";
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage({ type: "page-loaded", lang: pageLang });
    });
  }

  var banner = document.getElementById("offline-banner");
  function showState() {
    if (banner) banner.hidden = navigator.onLine;
    document.querySelectorAll("[data-when-offline]").forEach(function (el) { el.hidden = navigator.onLine; });
  }
  window.addEventListener("online", showState);
  window.addEventListener("offline", showState);
  showState();

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var article = document.querySelector("article[data-case]");
  if (article) {
    remember(location.pathname, article.getAttribute("data-title"), false);
    var save = document.querySelector("[data-save-offline]");
    var status = document.querySelector("[data-offline-status]");
    if (save && "caches" in window) {
      save.hidden = false;
      save.addEventListener("click", function () {
        caches.open("portal-saved").then(function (cache) {
          return cache.add(location.pathname);
        }).then(function () {
          remember(location.pathname, article.getAttribute("data-title"), true);
          if (status) { status.hidden = false; status.textContent = save.getAttribute("data-done") || "✓"; }
        }).catch(function () {
          if (status) { status.hidden = false; status.textContent = save.getAttribute("data-failed") || "✗"; }
        });
      });
    }
  }

  var list = document.querySelector("[data-offline-list]");
  if (list) {
    var items = readList();
    var names = ["portal-saved", "portal-recent"];
    Promise.all(items.map(function (item) {
      if (!("caches" in window)) return null;
      return Promise.all(names.map(function (n) {
        return caches.open(n).then(function (c) { return c.match(item.path); });
      })).then(function (found) { return found.some(Boolean) ? item : null; });
    })).then(function (available) {
      available = available.filter(Boolean);
      available.forEach(function (item) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = item.path;
        a.textContent = item.title || item.path;
        li.appendChild(a);
        if (item.saved) { li.appendChild(document.createTextNode(" ★")); }
        list.appendChild(li);
      });
      var empty = document.querySelector("[data-offline-empty]");
      if (empty) empty.hidden = available.length > 0;
    });
  }

  document.querySelectorAll("form[data-clear-offline]").forEach(function (form) {
    form.addEventListener("submit", function () {
      // A shared phone: nothing of this user stays readable after signing out.
      try { localStorage.removeItem(LIST); } catch (e) { /* ignore */ }
      if ("caches" in window) {
        caches.keys().then(function (keys) {
          keys.forEach(function (k) { if (k.indexOf("portal-") === 0) caches.delete(k); });
        });
      }
    });
  });
})();
