"""Organizers: their accounts, log-ins and API tokens (`accounts`, `models`), and who may write to a target
(`permissions`), the one rule every path that changes targets calls: the workspace, its API, the CSV import and
`flask campaigns load/import`."""
