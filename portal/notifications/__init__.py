"""Notifications in the portal: something a user should look at, with a link to it. Each is
raised once by the event that causes it (a unique key per user), shown behind the bell with an
unread count, and marked read when opened.

Below the domains that raise notifications (kb, learning, assessment, audits, certification):
they call :func:`notify` / :func:`retract`; this package imports none of them.
"""

from __future__ import annotations

from .mail import MailOutbox, enqueue_many
from .models import Notification, Reminder, notify, notify_many, retract, unread_count

__all__ = ["MailOutbox", "Notification", "Reminder", "enqueue_many", "notify", "notify_many", "retract",
           "unread_count"]
