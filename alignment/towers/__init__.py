"""Feature extractors (towers) for text, images and audio."""
