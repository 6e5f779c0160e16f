"""What several features use, below all of them: the field rules for supporter input (`validation`), the template
sandbox and its render processes (`sandbox`, `rendering`), the salutation and sign-off around a letter
(`framing`), the per-process copies the campaign and Congress caches keep (`versioned`), and the one error type
for input that cannot be used, field by field (`invalid`), with what every API registers to answer it in JSON
(`json_errors`; their HTTP errors are webapp/errors.py's). Nothing here imports a feature package or the models."""
