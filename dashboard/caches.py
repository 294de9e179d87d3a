"""The caches every session shares: datasets, models, the forum's error, the device line and
the run store with its loaded runs. Pages call these accessors, never a cache decorator.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import streamlit as st

from engine import hosting
from engine.config import DataConfig, ModelConfig, TrainConfig


class _SmallCache:
    """A few recent values by key, safe across sessions' threads; big datasets are evicted."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            if key in self.values:
                self.values.move_to_end(key)
                return self.values[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.values[key] = value
            self.values.move_to_end(key)
            while len(self.values) > self.size:
                self.values.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _dataset_cache() -> _SmallCache:
    # A plain container under cache_resource, not a cached loader: the loader reports progress
    # into page elements, which Streamlit's cache replay cannot do.
    return _SmallCache(size=3)


def dataset_choices() -> list[Any]:
    """The engine's datasets (offline default first), as DatasetInfo records."""
    from engine.datasets.registry import available_datasets

    return list(available_datasets())


def is_dataset_loaded(config: DataConfig) -> bool:
    return _dataset_cache().get(config) is not None


def load_dataset(config: DataConfig, progress: Callable[[str, float], None] | None = None) -> Any:
    """The DatasetSplit for `config`, loaded once and shared; EngineError when it cannot be."""
    from engine.datasets.loading import load_dataset as engine_load

    cache = _dataset_cache()
    split = cache.get(config)
    if split is None:
        if config.dataset.startswith(("zip:", "folder:")):  # uploads: heavy, so in the queue
            from engine.work_queue import work_slot

            def waiting(place: int) -> None:
                if progress is not None:  # a page element: raises when the visitor left
                    ahead = "next" if place == 1 else f"{place - 1} ahead"
                    progress(f"Waiting for a free slot on the server ({ahead})", 0.0)

            with work_slot(on_wait=waiting):
                split = engine_load(config, progress=progress)
        else:
            split = engine_load(config, progress=progress)
        cache.put(config, split)
    return split


@st.cache_resource(show_spinner="Building the model...", max_entries=16)
def head_change(config: ModelConfig, num_classes: int, image_shape: tuple[int, ...]) -> Any:
    """The head before and after reconfiguration (engine.overview.HeadChange), cached."""
    from engine.overview import head_change as engine_head_change

    return engine_head_change(config, num_classes, tuple(image_shape))


@st.cache_resource(show_spinner="Running the loss on one batch...", max_entries=16)
def _forum_error(config: DataConfig, batch_size: int) -> Any:
    from engine.lessons import reproduce_forum_error

    return reproduce_forum_error(load_dataset(config), batch_size=batch_size)


def forum_error(config: DataConfig, batch_size: int) -> Any:
    """The forum's error reproduced on one real batch (engine.lessons.ForumError), cached."""
    return _forum_error(config, batch_size)


@st.cache_resource(show_spinner=False)
def _device_description(name: str) -> str:
    from engine.device import describe_device, resolve_device

    return describe_device(resolve_device(name))


def training_device_description(train: TrainConfig | None = None) -> str:
    """Where a training with `train` (default: the engine's TrainConfig()) would run: the GPU,
    or the CPU with the threads training uses there, `cpu_threads` (0 = the training queue's
    share of the cores, engine.hosting), not the process's: "CPU (1 thread for training)"."""
    train = train or TrainConfig()
    described = _device_description(train.device)
    if not described.startswith("CPU"):
        return described
    threads = train.cpu_threads or hosting.hosting_limits().threads_per_training
    return f"CPU ({threads} thread{'' if threads == 1 else 's'} for training)"


@st.cache_resource(show_spinner=False)
def _run_store(root: str) -> Any:
    from engine.runs import RunStore

    return RunStore(root)


def run_store() -> Any:
    """The run store under $LME_RUNS_DIR (or ./runs), shared by every session."""
    from engine.runs import default_runs_dir

    return _run_store(str(default_runs_dir().resolve()))


def storage_problem() -> str | None:
    """Why runs cannot be saved on this server (the runs folder is a file or read-only)."""
    return run_store().storage_problem()


@st.cache_resource(show_spinner="Loading the run...", max_entries=8)
def _loaded_run(root: str, run_id: str, stamp: float) -> Any:
    from engine.runs import RunStore

    return RunStore(root).load_run(run_id)


def cached_run(run_id: str) -> Any:
    """A saved run (engine.runs.LoadedRun) from the shared cache, reloaded when its run.json
    changes. Says nothing about who may see it: pages call `visitor.load_run`."""
    store = run_store()
    try:
        stamp = (store.run_path(run_id) / "run.json").stat().st_mtime
    except OSError:
        stamp = 0.0
    return _loaded_run(str(store.root.resolve()), run_id, stamp)
