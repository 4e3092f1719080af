//! Test helpers shared by the integration suites.
