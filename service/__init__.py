"""AssetScreen application layer: media decoding, the screening pipeline, policy, and the HTTP/CLI adapters."""
