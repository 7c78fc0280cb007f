"""Shipped alignment checkpoints (package data: safetensors + JSON)."""
