"""Training the contrastive prompt alignment: feature cache, trainer,
prompts, audio binding, baselines, transfer, recipes and evaluation."""
