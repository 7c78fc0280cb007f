"""Architecture configs (JSON), read by `xmodal.alignment.config`."""
