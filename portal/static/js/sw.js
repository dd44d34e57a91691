/* Service worker: case pages readable offline; a clear offline page otherwise. */
"use strict";
var SHELL = "portal-shell-v2";
var RECENT = "portal-recent";
var SAVED = "portal-saved";
var KEEP_RECENT = 30;
var STATIC_URLS = ["/static/css/portal.css", "/static/js/portal.js", "/static/js/kb.js",
                   "/static/img/icon.svg"];
var OFFLINE = "/offline";
var OFFLINE_LANG = "X-Offline-Lang";  // the language the kept offline page is in
var CASE_PAGE = /^\/cases\/(?!new$|mine$|review|reports|photos)[a-z0-9-]+$/;

// The offline page as shown instead of a page that cannot be fetched, in the reader's language.
function keepOfflinePage(lang) {
  var url = OFFLINE + "?fallback=1" + (lang ? "&lang=" + encodeURIComponent(lang) : "");
  return fetch(url, { credentials: "same-origin" }).then(function (response) {
    if (!response.ok) throw new Error("offline page: HTTP " + response.status);
    return response.blob().then(function (body) {
      var headers = new Headers(response.headers);
      headers.set(OFFLINE_LANG, lang || "");
      return caches.open(SHELL).then(function (cache) {
        return cache.put(OFFLINE, new Response(body, { status: 200, headers: headers }));
      });
    });
  });
}

// Every page load asks for this: whatever was cleared (signing out clears every cache) is put
// back, and the offline page follows the language the reader reads the portal in.
function ensureShell(lang) {
  return caches.open(SHELL).then(function (cache) {
    return cache.match(OFFLINE).then(function (hit) {
      var jobs = STATIC_URLS.map(function (url) {
        return cache.match(url).then(function (found) { return found || cache.add(url); });
      });
      if (!hit || (lang && hit.headers.get(OFFLINE_LANG) !== lang)) jobs.push(keepOfflinePage(lang));
      return Promise.all(jobs);
    });
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (c) { return c.addAll(STATIC_URLS); })
    .then(function () { return keepOfflinePage(""); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "page-loaded") {
    event.waitUntil(ensureShell(data.lang).catch(function () { /* offline now: next load */ }));
  }
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) {
      return k.indexOf("portal-shell-") === 0 && k !== SHELL;
    }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function keepRecent(request, response) {
  return caches.open(RECENT).then(function (cache) {
    return cache.delete(request).then(function () { return cache.put(request, response); })
      .then(function () { return cache.keys(); })
      .then(function (keys) {
        return Promise.all(keys.slice(0, Math.max(0, keys.length - KEEP_RECENT)).map(function (k) {
          return cache.delete(k);
        }));
      });
  });
}

function fromCache(request) {
  return caches.match(request, { ignoreSearch: true }).then(function (hit) {
    return hit || caches.match(OFFLINE);
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok && !response.redirected && CASE_PAGE.test(url.pathname)) {
        var copy = response.clone();
        event.waitUntil(keepRecent(new Request(url.pathname), copy));
      }
      return response;
    }).catch(function () { return fromCache(new Request(url.pathname)); }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    // Stale-while-revalidate: fast on a weak connection, and a new deploy shows on the next load.
    event.respondWith(caches.open(SHELL).then(function (cache) {
      return cache.match(request, { ignoreSearch: true }).then(function (hit) {
        var fresh = fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        });
        if (hit) { event.waitUntil(fresh.catch(function () {})); return hit; }
        return fresh;
      });
    }));
  }
});
