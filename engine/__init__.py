"""Label Mode Explorer's engine: datasets, label modes, heads, training, runs, analysis and
prediction, usable from Python and the command line without Streamlit.

The public API is re-exported here. Names are imported on first use (PEP 562), so
`import engine` stays instant and loads torch only when something needs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"  # the one version: pyproject.toml reads it, run.json records it

# public name -> the module that owns it
_EXPORTS: dict[str, str] = {
    # configs and errors
    "DataConfig": "engine.config",
    "ModelConfig": "engine.config",
    "TrainConfig": "engine.config",
    "RunConfig": "engine.config",
    "EngineError": "engine.errors",
    "LabelShapeError": "engine.errors",
    "DatasetError": "engine.errors",
    "ImageError": "engine.errors",
    "ArchiveError": "engine.errors",
    "RunError": "engine.errors",
    "ModelError": "engine.errors",
    "TrainingError": "engine.errors",
    # label modes
    "LABEL_MODES": "engine.modes",
    "to_multi_label": "engine.labels",
    "to_multi_class": "engine.labels",
    "fires": "engine.labels",
    "labels_per_image": "engine.labels",
    "targets_for_mode": "engine.labels",
    "loss_function": "engine.labels",
    "activation": "engine.labels",
    "check_targets": "engine.labels",
    # devices
    "resolve_device": "engine.device",
    "describe_device": "engine.device",
    # data
    "ImageDataset": "engine.datasets.dataset",
    "DatasetSplit": "engine.datasets.dataset",
    "DatasetInfo": "engine.datasets.registry",
    "available_datasets": "engine.datasets.registry",
    "load_dataset": "engine.datasets.loading",
    "stratified_split": "engine.datasets.splitting",
    "default_data_root": "engine.datasets.registry",
    "make_non_digits": "engine.nondigits",
    "extract_zip": "engine.archives",
    # models and heads
    "available_models": "engine.model_names",
    "build_model": "engine.models",
    "get_classifier": "engine.models",
    "reset_classifier": "engine.models",
    "describe_head": "engine.models",
    "freeze_body": "engine.models",
    "HeadDescription": "engine.models",
    # training
    "Callback": "engine.callbacks",
    "StopTraining": "engine.callbacks",
    "ProgressPrinter": "engine.callbacks",
    "TrainState": "engine.callbacks",
    "FitResult": "engine.training",
    "fit": "engine.training",
    "evaluate": "engine.training",
    "epoch_metrics": "engine.training",
    # runs
    "RunStore": "engine.runs",
    "RunSummary": "engine.runs",
    "RunWriter": "engine.runs",
    "LoadedRun": "engine.runs",
    "ValidationOutputs": "engine.runs",
    "default_runs_dir": "engine.runs",
    "train_run": "engine.pipeline",
    # prediction and analysis
    "decode_image": "engine.images",
    "preprocess": "engine.images",
    "Prediction": "engine.prediction",
    "predict_images": "engine.prediction",
    "verdict_text": "engine.prediction",
    "other_reading_text": "engine.prediction",
    "analysis_report": "engine.analysis",
    "threshold_curve": "engine.analysis",
    "held_out_tuning": "engine.analysis",
    "save_tuned_thresholds": "engine.runs",
    "read_tuned_thresholds": "engine.runs",
    "reproduce_forum_error": "engine.lessons",
    "format_report": "engine.analysis",
    "teach_none": "engine.analysis",
    # background training (the dashboard's worker) and torchrun
    "TrainingJob": "engine.training_jobs",
    "JobProgress": "engine.training_jobs",
    "start_training": "engine.training_jobs",
    "TaskJob": "engine.jobs",
    "start_task": "engine.jobs",
    "DistributedContext": "engine.distributed",
    "is_main_process": "engine.distributed",
}

# Every exported name, in the order of the table above.
__all__ = ["__version__", *_EXPORTS]  # resolved on first use by __getattr__ below


def __getattr__(name: str) -> Any:
    """Import the owning module on first use and cache the name in this package."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
