"""Data page: the default dataset's numbers, sample grid, class balance and the label-mode
demo; links reproduce the view; bad links and missing data give messages, not tracebacks."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from dashboard import links, session
from tests.dashboard.conftest import metrics, texts

PAGE = "views/data.py"


@pytest.mark.slow
def test_default_dataset_shows_counts_samples_and_balance(open_page) -> None:
    app = open_page(PAGE)
    assert not app.exception
    assert app.selectbox(key=links.DATASET).value == "mnist-5k"
    shown = metrics(app)
    assert shown["Training images"] == "4,000"
    assert shown["Validation images"] == "1,000"
    assert shown["Classes"] == "10"
    assert shown["Image shape (C, H, W)"] == "1 × 28 × 28"
    assert "Labels counted: 4,000 in training, 1,000 in validation (5,000 in all)." in texts(
        app, "caption"
    )
    assert len(app.get("vega_lite_chart")) == 2  # class balance, labels per image
    assert "Every image carries exactly one label" in " ".join(texts(app, "caption"))
    grid = app.get("image")[0].proto.imgs
    assert len(grid) == 20  # two per class
    assert sorted(image.caption for image in grid)[:3] == ["0", "0", "1"]


@pytest.mark.slow
def test_label_mode_switch_shows_one_target_before_and_after(open_page) -> None:
    app = open_page(PAGE)
    assert texts(app, "code")[:2] == ["7", "[0,0,0,0,0,0,0,1,0,0]"]
    assert "is the vector [0,0,0,0,0,0,0,1,0,0]" in app.success[0].value

    app.segmented_control(key=links.MODE).set_value("multi-class").run()
    assert "stays the class index 7" in app.info[0].value
    assert not app.success


@pytest.mark.slow
def test_a_link_reopens_the_same_view(open_page) -> None:
    switched = open_page(PAGE)
    switched.segmented_control(key=links.MODE).set_value("multi-class").run()
    linked = open_page(PAGE, mode="multi-class")
    assert linked.segmented_control(key=links.MODE).value == "multi-class"
    assert [i.value for i in linked.info] == [i.value for i in switched.info]
    assert "mode=multi-class" in texts(linked.sidebar, "code")[0]
    assert "/data?" in texts(linked.sidebar, "code")[0]


@pytest.mark.slow
def test_an_invalid_link_value_falls_back_with_a_notice(open_page) -> None:
    app = open_page(PAGE, dataset="imagenet-22k", mode="sideways")
    assert not app.exception
    notices = [warning.value for warning in app.warning]
    assert any("dataset='imagenet-22k'" in notice for notice in notices)
    assert any("mode='sideways'" in notice for notice in notices)
    assert app.selectbox(key=links.DATASET).value == "mnist-5k"
    assert metrics(app)["Training images"] == "4,000"


@pytest.mark.slow
def test_a_missing_download_says_what_to_do(open_page) -> None:
    app = open_page(PAGE, dataset="kmnist")
    assert not app.exception
    assert app.toggle(key=links.DOWNLOAD).value is False
    assert len(app.error) == 1
    assert "kmnist" in app.error[0].value.lower()
    assert not app.metric  # nothing drawn from data that is not there


def _class_folders_zip(stray: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, shade in (("cats", 30), ("dogs", 220)):
            for number in range(5):
                image = io.BytesIO()
                Image.new("RGB", (12, 12), (shade, shade, number * 10)).save(image, "PNG")
                archive.writestr(f"pets/{name}/{number}.png", image.getvalue())
        if stray:
            archive.writestr(stray, b"not an image")
    return buffer.getvalue()


@pytest.mark.slow
def test_an_uploaded_zip_of_class_folders_becomes_the_dataset(open_page) -> None:
    app = open_page(PAGE, dataset=session.UPLOAD_CHOICE)
    assert "Upload a .zip" in app.info[0].value
    app.file_uploader[0].upload("pets.zip", _class_folders_zip(), "application/zip").run()
    assert not app.exception
    assert not app.error, app.error[0].value if app.error else ""
    shown = metrics(app)
    assert shown["Classes"] == "2"
    assert int(shown["Training images"]) + int(shown["Validation images"]) == 10
    assert "Uploaded: pets.zip" in texts(app, "text")
    assert not app.warning  # every file was an image


@pytest.mark.slow
def test_files_skipped_in_an_upload_are_named_on_the_page(open_page) -> None:
    app = open_page(PAGE, dataset=session.UPLOAD_CHOICE)
    upload = _class_folders_zip(stray="pets/dogs/notes.txt")
    app.file_uploader[0].upload("pets.zip", upload, "application/zip").run()
    assert not app.exception and not app.error
    assert metrics(app)["Training images"] and len(app.warning) == 1
    warning = app.warning[0].value
    assert "skipped 1 file" in warning and "dogs/notes.txt" in warning


def test_a_broken_zip_shows_an_error_not_a_traceback(open_page) -> None:
    app = open_page(PAGE, dataset=session.UPLOAD_CHOICE)
    app.file_uploader[0].upload("broken.zip", b"not a zip at all", "application/zip").run()
    assert not app.exception
    assert len(app.error) == 1


@pytest.mark.slow
def test_a_multi_label_dataset_says_no_class_index_can_hold_its_targets(open_page) -> None:
    app = open_page(PAGE, dataset="two-digits")
    assert not app.exception
    before, after = texts(app, "code")[:2]
    assert before == "none possible"
    assert after.count("1") == 2  # two digits in one image: two ones in the vector
    assert "Only multi-label mode can train this dataset" in app.warning[0].value


@pytest.mark.slow
def test_a_pascal_style_zip_with_a_csv_shows_label_sets_and_labels_per_image(open_page) -> None:
    from tests.engine.labelled_data import zip_bytes

    app = open_page(PAGE, dataset=session.UPLOAD_CHOICE)
    app.file_uploader[0].upload("pascal.zip", zip_bytes(), "application/zip").run()
    assert not app.exception
    assert not app.error, app.error[0].value if app.error else ""
    shown = metrics(app)
    assert shown["Classes"] == "3"
    assert (shown["Training images"], shown["Validation images"]) == ("36", "12")  # is_valid
    assert "Uploaded: pascal.zip" in texts(app, "text")
    assert "Sample images, with their label sets" in texts(app, "subheader")
    captions = {image.caption for image in app.get("image")[0].proto.imgs}
    assert {"none", "cat", "cat + dog", "dog + person"} <= captions
    assert any("Images carry any number of labels" in c for c in texts(app, "caption"))
    assert texts(app, "code")[0] == "none possible"  # a multi-hot image has no class index


@pytest.mark.slow
def test_a_failed_upload_never_replaces_a_working_one(open_page) -> None:
    from tests.engine.labelled_data import zip_bytes

    app = open_page(PAGE, dataset=session.UPLOAD_CHOICE)
    app.file_uploader[0].upload("pascal.zip", zip_bytes(), "application/zip").run()
    assert metrics(app)["Classes"] == "3"
    bad = zip_bytes(csv="fname,labels\n000000.png,cat\nghost.png,dog\n")
    app.file_uploader[0].upload("broken.zip", bad, "application/zip").run()
    assert not app.exception
    message = app.error[0].value
    assert message.startswith("broken.zip cannot be used: train.csv names 1 file(s)")
    assert "'ghost.png' (row 3)" in message and "/tmp" not in message
    assert "Still using the earlier upload" in app.info[0].value
    assert metrics(app)["Classes"] == "3"
    assert "Uploaded: pascal.zip" in texts(app, "text")


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        ("file,tags\n000000.png,cat\n", "train.csv has no 'fname' or 'labels' column"),
        ("fname,labels\n000000.png,cat,dog\n", "separate the labels with spaces, not commas"),
    ],
)
def test_a_bad_first_upload_is_one_message_in_the_users_terms(open_page, csv, expected) -> None:
    from tests.engine.labelled_data import zip_bytes

    app = open_page(PAGE, dataset=session.UPLOAD_CHOICE)
    app.file_uploader[0].upload("mine.zip", zip_bytes(csv=csv), "application/zip").run()
    assert not app.exception
    assert len(app.error) == 1 and expected in app.error[0].value
    assert "lme-zip" not in app.error[0].value and "/tmp" not in app.error[0].value
    assert not app.metric


@pytest.mark.slow
def test_the_train_page_names_an_upload_by_its_file_name(open_page) -> None:
    from tests.engine.labelled_data import zip_bytes

    app = open_page(PAGE, dataset=session.UPLOAD_CHOICE)
    app.file_uploader[0].upload("pascal.zip", zip_bytes(), "application/zip").run()
    app.switch_page("views/train.py").run()
    assert not app.exception
    options = app.selectbox(key=links.DATASET).options
    assert options[-1] == "pascal.zip"
    assert not any("label-mode-explorer-uploads" in option for option in options)


@pytest.mark.slow
def test_the_full_mnist_shows_offline_with_the_test_digits_as_validation(open_page) -> None:
    """Extracted from the engine's own copy into the (temporary) data root: no download."""
    app = open_page(PAGE, dataset="mnist")
    assert not app.exception and not app.error
    assert not [toggle for toggle in app.toggle if toggle.key == links.DOWNLOAD]  # shipped
    shown = metrics(app)
    assert shown["Training images"] == "60,000"
    assert shown["Validation images"] == "10,000"
    assert shown["Classes"] == "10"


def test_datasets_are_named_without_server_paths() -> None:
    from dashboard.tables import dataset_name

    assert dataset_name("zip:/tmp/label-mode-explorer-uploads/0f3a/pascal.zip") == "pascal.zip"
    assert dataset_name("folder:/home/me/data/pets") == "pets"
    assert dataset_name("mnist-5k") == "mnist-5k"
