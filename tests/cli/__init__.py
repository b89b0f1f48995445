"""The CLI (housing_assets/cli): its console, its locks, its supervision of servers, its version."""
