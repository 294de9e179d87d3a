"""The forum's page under AppTest: the error reproduced live with the user's batch size and
class count, the fix, and the three questions answered with a run (within a click of Home)."""

from __future__ import annotations

import shutil

import pytest

from dashboard import links
from engine.runs import RunStore
from tests.dashboard.conftest import metrics, texts

PAGE = "views/forum.py"
FORUM_MESSAGE = "Target size (torch.Size([{b}])) must be the same as input size (torch.Size([{n}]))"


def test_home_links_to_the_forum_page_and_no_longer_blames_the_head(open_page) -> None:
    app = open_page()
    page = "\n".join(texts(app, "markdown"))
    assert "The last `Linear` layer is replaced by one with an output per class" not in page
    assert "The fix is the targets" in page and "not the head" in page
    assert "MultiCategoryBlock" in page and "learn.model[-1]" in page
    links = {link.value: link.proto.page for link in app.page_link}
    assert links["Why the error? Reproduce it with your data"] == "forum"
    assert links["All three answered with your run's own numbers"] == "forum"


def test_the_model_page_says_the_label_mode_never_changes_the_head(open_page) -> None:
    app = open_page("views/model.py")
    assert not app.exception
    page = "\n".join(texts(app, "markdown"))
    assert "the label mode never changes it" in page
    captions = " ".join(texts(app, "caption"))
    assert "learn.model[-1]" in captions
    assert "PyTorch combines the sigmoid and the loss, not the FC layer and the loss" in captions


@pytest.mark.parametrize(
    ("dataset", "batch", "classes"),
    [("mnist-5k", "64", 10), ("mnist-5k", "32", 10), ("two-digits", "8", 10)],
)
@pytest.mark.slow
def test_the_error_is_reproduced_with_the_users_numbers(open_page, dataset, batch, classes):
    app = open_page(PAGE, dataset=dataset, batch=batch)
    assert not app.exception
    size = int(batch)
    shown = metrics(app)
    assert shown["Images in the batch"] == str(size)
    assert shown["Classes (head outputs)"] == str(classes)
    assert shown["Logits"] == f"{size} × {classes}"
    assert shown["Logits flattened"] == f"{size * classes:,}"
    codes = texts(app, "code")
    assert f"ValueError: {FORUM_MESSAGE.format(b=size, n=size * classes)}" in codes
    engine_message = next(code for code in codes if "to_multi_label" in code and "mode" in code)
    assert f"({size}, {classes})" in engine_message
    fix = next(code for code in codes if code.startswith("targets = to_multi_label"))
    assert f"torch.Size([{size}, {classes}])" in fix
    explanation = app.info[0].value
    assert "the fix is the targets (one-hot), not the head" in explanation
    assert f"{size} × {classes} = {size * classes:,}" in explanation
    captions = " ".join(texts(app, "caption"))
    assert "BCEWithLogitsLossFlat" in captions and "one numerically stable function" in captions
    if dataset == "two-digits":
        assert "multi-label already" in captions


@pytest.mark.slow
def test_the_batch_size_input_changes_the_numbers(open_page) -> None:
    app = open_page(PAGE)
    assert metrics(app)["Logits flattened"] == "640"
    app.number_input(key=links.BATCH_SIZE).set_value(16).run()
    assert metrics(app)["Logits flattened"] == "160"
    assert "batch=16" in texts(app.sidebar, "code")[0]


@pytest.mark.slow
def test_the_three_questions_use_the_runs_own_numbers_and_its_twin(open_page, tiny_store):
    root, multi_label, multi_class = tiny_store
    app = open_page(PAGE, run=multi_label)
    assert not app.exception
    run = RunStore(root).load_run(multi_label)
    accuracy = run.metrics["val_accuracy"]
    page = "\n".join(texts(app, "markdown"))
    assert f"its argmax is right on {accuracy:.1%}" in page
    assert f"accuracy_multi {run.metrics['val_accuracy_multi']:.1%}" in page
    codes = texts(app, "code")
    # The cnn has no published (ImageNet) head: "before" is its own head, as built.
    assert "As built: cnn is built for the dataset" in page
    assert not any("out_features=1000" in code for code in codes)
    assert any("out_features=10" in code and "1000" not in code for code in codes)  # this run
    assert "The forum's error was the targets, not the head." in page
    table = app.dataframe[0].value
    assert set(table["run"]) == {multi_label, multi_class}
    assert "Argmax accuracy (the top class is right)" in app.info[-1].value


@pytest.mark.slow
def test_without_a_twin_the_page_offers_to_train_it_on_compare(open_page, runs_dir, tiny_runs):
    root, multi_label, _ = tiny_runs
    shutil.copytree(root / multi_label, runs_dir / multi_label)
    app = open_page(PAGE, run=multi_label)
    assert not app.exception
    assert "has no multi-class twin yet" in "\n".join(texts(app, "markdown"))
    app.button[0].click().run()
    assert not app.exception
    assert app.multiselect(key=links.RUNS).value == [multi_label]
    assert any(button.label == "Train the multi-class twin" for button in app.button)


@pytest.mark.slow
def test_an_unknown_dataset_in_the_link_falls_back_with_a_notice(open_page):
    app = open_page(PAGE, dataset="imagenet")
    assert not app.exception
    assert any("dataset='imagenet'" in warning.value for warning in app.warning)
    assert metrics(app)["Logits flattened"] == "640"


@pytest.mark.slow
def test_a_run_on_an_uploaded_csv_set_is_answered_and_explored(open_page, runs_dir, tmp_path):
    from engine.config import RunConfig
    from engine.pipeline import train_run
    from tests.engine.labelled_data import CLASSES, zip_bytes

    archive = tmp_path / "pascal.zip"
    archive.write_bytes(zip_bytes(count=48))
    config = RunConfig().with_changes(
        dataset=f"zip:{archive}", epochs=2, batch_size=16, device="cpu", cpu_threads=1
    )
    run_id = train_run(config, RunStore(runs_dir))
    app = open_page(PAGE, run=run_id)
    assert not app.exception
    page = "\n".join(texts(app, "markdown"))
    assert "This run's data is multi-label already" in page
    assert "there is no softmax twin to compare" in page
    assert not [b for b in app.button if "twin" in b.label]
    explore = open_page("views/explore.py", run=run_id)
    assert not explore.exception
    assert "Choosing the threshold" in texts(explore, "subheader")
    per_class = next(f.value for f in explore.dataframe if "F1 tuned, held out" in f.value.columns)
    assert list(per_class.index) == list(CLASSES)
    assert len(explore.dataframe[0].value) == 3  # every pair of three classes
