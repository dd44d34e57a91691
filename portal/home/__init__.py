"""Landing pages for each role, health check and language switching."""
