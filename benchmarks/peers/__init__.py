"""Peer tools the benchmarks compare against, each run in its own venv as a
subprocess (see setup_autofaiss.sh). Nothing here is imported by xmodal."""
