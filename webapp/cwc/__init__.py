"""Letters delivered into members' offices through Communicating with Congress (CWC): its message, grammar and API."""
