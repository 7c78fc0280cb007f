"""Built-in encoder stacks, registered through the `xmodal.encoders` entry points."""
