/* Service worker: case pages readable offline; a clear offline page otherwise. */
"use strict";
var SHELL = "portal-shell-v1";
var RECENT = "portal-recent";
var SAVED = "portal-saved";
var KEEP_RECENT = 30;
var SHELL_URLS = ["/offline", "/static/css/portal.css", "/static/js/portal.js", "/static/img/icon.svg"];
var CASE_PAGE = /^\/cases\/(?!new$|mine$|review|reports|photos)[a-z0-9-]+$/;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (c) { return c.addAll(SHELL_URLS); })
    .then(function () { return self.skipWaiting(); }));
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
    return hit || caches.match("/offline");
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
