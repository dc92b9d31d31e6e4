"""The fields of a notification channel that are secrets, named once: the API masks them
(notify) and the metadata database encrypts them at rest (meta.sealed)."""

CHANNEL_SECRET_FIELDS = ("url", "routing_key", "secret", "headers", "smtp_password")
