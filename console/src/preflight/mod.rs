//! Preflight: checks from `outpost.yaml` and built-in ones, evaluated against each node's facts.
