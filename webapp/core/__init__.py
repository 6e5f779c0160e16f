"""What several features use, below all of them: the field rules for supporter input (`validation`), the template
sandbox and its render processes (`sandbox`, `rendering`), the salutation and sign-off around a letter
(`framing`), the per-process copies the campaign and Congress caches keep (`versioned`), and the one error type
for input that cannot be used, field by field (`invalid`), with the one JSON responder every API answers it and
its HTTP errors through (`json_errors`). Nothing here imports a feature package or the models."""
