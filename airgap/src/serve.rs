//! `outpost-airgap serve`: the reference api host.
