"""Data: the embedded benchmark, list files, video decoding and loaders."""
