"""Letters: the supporter's flow from the campaign page through the template to the outbox, and the hand-offs."""
