"""Emails: Jinja2 templates per message, SMTP or ``.eml`` transports, and the EMAIL handler."""
