"""Evaluation metrics and probes: pure functions on feature / logit tensors (or arrays).

* :mod:`.retrieval`: cosine nearest-neighbour Recall@k (the paper's retrieval protocol).
* :mod:`.classification`: clip- and video-level top-k, per-class accuracy, confusion matrix.
* :mod:`.probes`: linear probe, background probe and kNN on frozen features.
* :mod:`.embedding`: t-SNE / UMAP / PCA embeddings and their scatter plots.

Plotting imports matplotlib lazily; nothing here downloads anything.
"""

from .classification import (
    ClassificationReport,
    aggregate_clips,
    classification_report,
    confusion_matrix,
    contrastive_accuracy,
    mean_class_accuracy,
    per_class_accuracy,
    plot_confusion,
    topk_accuracy,
    video_labels,
    video_level_logits,
)
from .embedding import embed_2d, hls_palette, plot_embedding, plot_embedding_pair
from .probes import ProbeResult, background_probe, knn_accuracy, knn_predict, linear_probe
from .retrieval import DEFAULT_KS, retrieval_neighbours, retrieval_recall

__all__ = [
    "DEFAULT_KS",
    "retrieval_recall",
    "retrieval_neighbours",
    "topk_accuracy",
    "aggregate_clips",
    "video_level_logits",
    "video_labels",
    "confusion_matrix",
    "per_class_accuracy",
    "mean_class_accuracy",
    "plot_confusion",
    "ClassificationReport",
    "classification_report",
    "contrastive_accuracy",
    "ProbeResult",
    "linear_probe",
    "background_probe",
    "knn_predict",
    "knn_accuracy",
    "embed_2d",
    "hls_palette",
    "plot_embedding",
    "plot_embedding_pair",
]
