"""The embeddable campaign page: an `<iframe>` on an organizer's own site, framed only where they allow it."""
