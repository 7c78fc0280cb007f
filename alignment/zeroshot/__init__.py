"""Zero-shot classification in the shared space: label prototypes from
prompt templates (`classifier`) and the metrics a run is judged by
(`metrics`). Tagging an index builds on this in `indexer.tagging`; the
benchmark in `benchmarks.zeroshot`."""
from .classifier import (DEFAULT_TEMPLATES, Classifier, LabelScore, build_classifier, label_prompts,
                         parse_labels, top_k_order)
from .metrics import ClassConfusion, ClassificationMetrics, chance_levels, classification_metrics

__all__ = ["DEFAULT_TEMPLATES", "Classifier", "LabelScore", "build_classifier", "label_prompts", "parse_labels",
           "top_k_order", "ClassConfusion", "ClassificationMetrics", "chance_levels", "classification_metrics"]
