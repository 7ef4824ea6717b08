"""Recordings and uploaded audio: a storage backend, audio synthesis, retention."""
