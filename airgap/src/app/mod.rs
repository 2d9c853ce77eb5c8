//! The application definition: `compose.yaml` + `outpost.yaml` in an app folder, parsed and
//! validated with every problem reported at once (see docs/FORMAT.md).
