"""Property-based fuzzing of the decoders that read untrusted network input."""
