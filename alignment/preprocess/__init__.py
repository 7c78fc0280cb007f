"""Decoding raw items (files, bytes, arrays, strings) into tower inputs."""
