"""The comparison of the paper's tables, rebuilt: Random init / MoCo / BE (and every registered
method), same backbone, same budget, same seeds, on the embedded benchmark or on real datasets.

For every condition (a camera setting of the benchmark, or a dataset) and seed, each *row* is a model:

==================  ============================================================================
row                 what it is
==================  ============================================================================
``random``          random initialisation (the paper's first row); finetuned on ``train``
``moco``            MoCo pretraining on ``pretrain`` (query and key: same frames, two augmentations)
``be``              BE pretraining, static frame from the clip itself (the paper's, ``intra``)
``be_inter``        BE with the static frame from another video of the batch (ablation)
``sup_biased``      supervised from scratch on the biased ``train`` (the floor). Its finetune
                    numbers are the same run as ``random``'s.
``sup_unbiased``    supervised from scratch on ``train_unbiased`` (the ceiling: what a model
                    that ignores the background can reach on ``test_shift``)
==================  ============================================================================

Columns (tidy, one line per condition x seed x row; ``table.csv``): finetune video-level and
clip-level top-1 on ``test_same`` and ``test_shift``; linear probe (logistic regression on the
frozen features, trained on ``train``), kNN, Recall@{1,5,10,20,50} on both test splits; the
background probe (features -> background id on ``train_unbiased``) with its chance level;
and, from Grad-CAM of the finetuned classifiers on ``test_shift`` (stage ``cam``), the share
of activation mass on the actor divided by the actor's share of the frame
(``actor_mass_ratio``: 1 = no preference for the actor, higher = looks at the actor).
Counterfactual columns: the motion probe (``motion_probe_<split>``: a linear probe trained on
``train_unbiased``, whose backgrounds say nothing of the class); on the SCUFO twins of
``scufo_splits`` (each video's middle frame repeated) the finetuned classifier
(``finetune_scufo_<split>``) and the probes (``probe_scufo_<split>``,
``motion_probe_scufo_<split>``), with the contrastive accuracies (``contrastive_<split>``,
``contrastive_probe_<split>``, ``contrastive_motion_probe_<split>``: right on the video, wrong on
its twin); ``extra_tests`` lists (``finetune_<name>``, ``probe_<name>``, ...) and their pairs.
``summary.csv`` holds mean ± std over seeds (:func:`summarise` also gives mean ± 95 % confidence
interval); :func:`paired_differences` gives each row minus a reference row, seed by seed.

Real datasets (``synthetic=False``): ``data_dirs`` maps each condition to a folder holding
``lists/<split>.txt`` or to a list template with ``{split}``; ``roots`` optionally overrides the
lists' data roots; the splits are settings (``pretrain_split``, ``train_split``,
``test_splits``); the rows and measures that need the benchmark's ground truth
(``sup_unbiased``, the background probe, the actor mass) are left out, as is ``sup_biased``
(on real data, supervised from scratch is the ``random`` row itself). ``pretrain_from`` lets a
dataset finetune another's encoders (the paper: HMDB51 <- UCF101). Pretraining and finetuning
may cut clips differently (``finetune_frames`` / ``finetune_stride`` / ``finetune_size``);
retrieval uses the pretraining clips.

Layers, each using only the ones above it:

==============  ===========================================================================
``config``      :class:`CompareConfig` (every setting, documented), the rows and their labels
``profiles``    the book's experiments ``smoke``, ``cpu``, ``full``, ``paper``: named configs
``staleness``   when a unit of work is current: content keys of settings and inputs
``cam``         Grad-CAM on test videos and the actor mass
``plan``        a config -> each condition's data, every run's configuration, the steps
``run``         :func:`run_comparison`: every step reused when current, made otherwise
``table``       :func:`collect_table`, :func:`summarise` (mean ± std or 95 % CI),
                :func:`paired_differences` (each row minus a reference row, seed by seed)
==============  ===========================================================================

``tbe compare`` (:mod:`tbe_lib.compare`) and the book (:mod:`tbe_lib.book`) sit on top.
"""

from __future__ import annotations

from .cam import CamClips, CamConfig, load_clips, measure_actor_mass
from .config import ROW_LABELS, ROWS, SSL_ROWS, CompareConfig, all_rows, setting_doc, setting_names
from .plan import (
    STAGES,
    Step,
    cam_clips,
    cam_config,
    cam_inputs,
    class_names_for,
    data_source,
    encoder_path,
    evaluation_config,
    extra_test_lists,
    finetune_config,
    list_for,
    pretrain_config,
    retrieval_config,
    run_step,
    seed_dir,
    steps,
)
from .profiles import EXPERIMENT_PROFILES, ExperimentProfile, profile_config, rooted
from .run import bring_up_to_date, ensure_data, retire_if_changed, run_comparison
from .staleness import Unit, config_changes, differences, file_digest, tree_digest, write_record
from .table import collect_table, mean_ci, paired_differences, summarise, t_quantile

__all__ = [
    "CompareConfig",
    "ROWS",
    "SSL_ROWS",
    "ROW_LABELS",
    "all_rows",
    "setting_names",
    "setting_doc",
    "ExperimentProfile",
    "EXPERIMENT_PROFILES",
    "profile_config",
    "rooted",
    "STAGES",
    "Step",
    "steps",
    "run_step",
    "data_source",
    "list_for",
    "class_names_for",
    "seed_dir",
    "pretrain_config",
    "encoder_path",
    "finetune_config",
    "evaluation_config",
    "extra_test_lists",
    "retrieval_config",
    "cam_clips",
    "cam_config",
    "cam_inputs",
    "CamClips",
    "CamConfig",
    "load_clips",
    "measure_actor_mass",
    "run_comparison",
    "bring_up_to_date",
    "retire_if_changed",
    "ensure_data",
    "Unit",
    "differences",
    "write_record",
    "file_digest",
    "tree_digest",
    "config_changes",
    "collect_table",
    "summarise",
    "mean_ci",
    "t_quantile",
    "paired_differences",
]
