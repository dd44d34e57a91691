"""Absolute links that leave the site: QR codes, printed certificates, badges, exported and API
links. They are built from the configured public address (``PORTAL_BASE_URL``), never from the
request's ``Host`` header, which the client chooses."""

from __future__ import annotations

from flask import current_app, has_request_context, request, url_for


def site_base() -> str:
    """The public address without a trailing slash.

    ``PORTAL_BASE_URL`` when set (production requires it); else, in development, the first
    trusted host (``PORTAL_TRUSTED_HOSTS``) with the request's scheme; else "" (the links
    are relative)."""
    base = (current_app.config.get("PORTAL_BASE_URL") or "").strip()
    if base:
        return base.rstrip("/")
    for host in current_app.config.get("TRUSTED_HOSTS") or ():
        if host and not host.startswith("."):  # ".example.cn" is a pattern, not a host
            scheme = request.scheme if has_request_context() else "http"
            return f"{scheme}://{host}"
    return ""


def external_url(endpoint: str, **values) -> str:
    """An address of this portal to be read elsewhere (printed, scanned, exported)."""
    return site_base() + url_for(endpoint, **values)
