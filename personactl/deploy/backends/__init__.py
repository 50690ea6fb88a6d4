"""Where deployed personas live: the embedded SQLite backend and the Tavus HTTP API."""
