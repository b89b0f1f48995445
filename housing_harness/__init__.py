"""The test harness as a package, shared by tests, benchmarks and docs/screenshots.py: servers
on loopback, the soak load, the headless browser, the daemon + API loop. Not shipped: nothing in housing_assets, housing_serving or housing_ui
imports it (the repository root is on the path of the project's environment)."""
