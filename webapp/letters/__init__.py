"""Letters: the supporter's flow from template to outbox, and the hand-offs."""
