//! Resolving image references to manifest digests, from a registry (distribution API,
//! with credentials) or from the local Docker engine where the vendor built the image.
