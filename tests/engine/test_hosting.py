"""Hosting one server for strangers (engine.hosting): the limits and their settings, owners
and share tokens, quotas, uploads kept per visitor, and the removal of expired runs."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from engine import hosting
from engine.config import RunConfig
from engine.errors import EngineError
from engine.pipeline import train_run
from engine.runs import RunStore, RunSummary
from tests.engine.synthetic import blocks_split

TINY = RunConfig().with_changes(name="mlp", epochs=1, batch_size=16, device="cpu")
PUBLIC = hosting.HostingLimits(public=True)


@pytest.fixture
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "uploads"
    monkeypatch.setenv(hosting.UPLOADS_DIR_VARIABLE, str(folder))
    return folder


def _summary(run_id: str, owner: str | None, read_only: bool = False) -> RunSummary:
    return RunSummary(run_id, Path(run_id), "complete", owner=owner, read_only=read_only)


# ---------------------------------------------------------------------------------------------
# Settings


def test_every_limit_has_a_setting_and_public_is_switched_by_lme_public() -> None:
    assert set(hosting.LIMIT_SETTINGS) == {
        f for f in hosting.HostingLimits.__dataclass_fields__ if f != "public"
    }
    assert hosting.hosting_limits({}) == hosting.HostingLimits()
    assert not hosting.hosting_limits({}).public
    assert hosting.hosting_limits({"LME_PUBLIC": "1"}).public
    assert not hosting.hosting_limits({"LME_PUBLIC": "0"}).public
    changed = hosting.hosting_limits(
        {"LME_MAX_TRAININGS": "3", "LME_MAX_AGE_HOURS": "0.5", "LME_MAX_RUNS_PER_VISITOR": "2"}
    )
    assert (changed.max_trainings, changed.max_age_hours, changed.max_runs_per_visitor) == (
        3,
        0.5,
        2,
    )


@pytest.mark.parametrize("variable", [v for v, _ in hosting.LIMIT_SETTINGS.values()])
@pytest.mark.parametrize("raw", ["0", "-1", "many", "inf", "nan"])
def test_a_bad_limit_setting_names_its_variable(variable: str, raw: str) -> None:
    with pytest.raises(EngineError, match=variable):
        hosting.hosting_limits({variable: raw})


def test_trainings_share_the_cores_without_oversubscribing_them() -> None:
    cores = hosting.cpu_cores()
    for trainings in (1, 2, cores):
        limits = hosting.HostingLimits(max_trainings=trainings)
        assert limits.threads_per_training * trainings <= max(cores - 1, trainings)
    assert hosting.HostingLimits().max_trainings == max(1, cores // 2)  # 2 cores: one at once


# ---------------------------------------------------------------------------------------------
# Owners and share tokens


def test_visitor_keys_are_random_and_owners_are_one_way() -> None:
    keys = {hosting.new_visitor_key() for _ in range(50)}
    assert len(keys) == 50 and all(hosting.is_visitor_key(key) for key in keys)
    key = next(iter(keys))
    assert hosting.owner_of(key) == hosting.owner_of(key) != key
    assert key not in hosting.owner_of(key)
    assert not hosting.is_visitor_key("short") and not hosting.is_visitor_key("../" * 10)


def test_a_share_token_opens_one_run_of_one_store_only(tmp_path: Path) -> None:
    other = tmp_path.parent / f"{tmp_path.name}-other"
    token = hosting.share_token(tmp_path, "run-a")
    assert token == hosting.share_token(tmp_path, "run-a")  # stable: links keep working
    assert token != hosting.share_token(tmp_path, "run-b")
    assert token != hosting.share_token(other, "run-a")  # another server's secret
    assert hosting.shared_runs(tmp_path, ["run-a", "run-b"], [token]) == {"run-a"}
    assert hosting.shared_runs(tmp_path, ["run-a"], ["guess", ""]) == set()
    secret = tmp_path / hosting.SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert RunStore(tmp_path, include_demo=False).list_runs() == []  # hidden from the list


def test_who_sees_and_who_deletes_which_run() -> None:
    mine, theirs, nobodys = _summary("m", "me"), _summary("t", "them"), _summary("n", None)
    demo = _summary("demo", None, read_only=True)
    # a private server: everyone sees and deletes everything but the demo
    assert all(hosting.can_see(s, None) for s in (mine, theirs, nobodys, demo))
    assert hosting.owns(theirs, None) and not hosting.owns(demo, None)
    # a hosted one: own runs, nobody's and the demos; others' only when shared
    assert [hosting.can_see(s, "me") for s in (mine, theirs, nobodys, demo)] == [
        True,
        False,
        True,
        True,
    ]
    assert hosting.can_see(theirs, "me", shared={"t"})
    assert hosting.owns(mine, "me")
    assert not hosting.owns(theirs, "me") and not hosting.owns(demo, "me")
    assert not hosting.owns(nobodys, "me")


# ---------------------------------------------------------------------------------------------
# Quotas


def test_a_visitor_keeps_at_most_the_run_quota(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    split = blocks_split()
    limits = hosting.HostingLimits(public=True, max_runs_per_visitor=1)
    check = (store, "me", TINY, len(split.train), split.num_classes, split.image_shape)
    hosting.check_training_allowed(*check, limits)
    run_id = train_run(TINY, store, split=split, owner="me")
    assert store.load_run(run_id) is not None
    with pytest.raises(hosting.QuotaError, match="1 saved runs.*delete one"):
        hosting.check_training_allowed(*check, limits)
    hosting.check_training_allowed(store, "you", *check[2:], limits)  # others are not counted
    hosting.check_training_allowed(*check, hosting.HostingLimits())  # a private server: no quota


def test_a_full_server_store_and_a_training_too_big_are_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    split = blocks_split()
    args = (store, "me", TINY, len(split.train), split.num_classes, split.image_shape)
    (tmp_path / "ballast").write_bytes(b"0" * 2 * hosting.MB)
    with pytest.raises(hosting.QuotaError, match="storage is full"):
        hosting.check_training_allowed(
            *args, hosting.HostingLimits(public=True, max_runs_disk_mb=1)
        )
    huge = TINY.with_changes(name="resnet18", epochs=100)
    cost = hosting.training_tflop(huge, 4000, 10, (1, 28, 28))
    assert cost > hosting.HostingLimits().max_training_tflop  # resnet18 x 100 epochs: too big
    assert hosting.training_tflop(RunConfig(), 4000, 10, (1, 28, 28)) < 1  # the default: fine
    with pytest.raises(hosting.QuotaError, match="TFLOP"):
        hosting.check_training_allowed(store, "me", huge, 4000, 10, (1, 28, 28), PUBLIC)


# ---------------------------------------------------------------------------------------------
# Uploads


def test_uploads_are_kept_per_visitor_within_their_quota(uploads: Path) -> None:
    limits = hosting.HostingLimits(public=True, max_upload_mb_per_visitor=1)
    first = hosting.save_upload(b"a" * 600_000, "me", limits, name="My Pets (2).zip")
    assert first.name == "My_Pets_2.zip"  # its own name, made safe for a file system
    assert first.parent.parent == uploads / "me" and first.read_bytes() == b"a" * 600_000
    again = hosting.save_upload(b"a" * 600_000, "me", limits, name="My Pets (2).zip")
    assert again == first  # the same file again: reused, not counted twice
    with pytest.raises(hosting.QuotaError, match="more than the 1 MB"):
        hosting.save_upload(b"b" * 600_000, "me", limits)
    other = hosting.save_upload(b"b" * 600_000, "you", limits)  # another visitor's own quota
    assert other.parent.parent == uploads / "you"
    assert hosting.may_use_dataset(f"zip:{first}", "me")
    assert not hosting.may_use_dataset(f"zip:{first}", "you")  # nobody trains on my pictures
    assert not hosting.may_use_dataset("folder:/etc", "you")
    assert hosting.may_use_dataset("mnist-5k", "you")
    assert hosting.may_use_dataset(f"zip:{first}", None)  # a private server


def test_a_refused_upload_is_removed_and_nothing_outside_the_uploads(
    uploads: Path, tmp_path: Path
) -> None:
    saved = hosting.save_upload(b"not a zip", "me", PUBLIC)
    hosting.discard_upload(f"zip:{saved}")
    assert not saved.exists() and not saved.parent.exists()
    elsewhere = tmp_path / "keep.zip"
    elsewhere.write_bytes(b"x")
    hosting.discard_upload(f"zip:{elsewhere}")
    assert elsewhere.exists()


def test_expired_runs_and_uploads_of_visitors_are_removed(tmp_path: Path, uploads: Path) -> None:
    store = RunStore(tmp_path)
    split = blocks_split()
    old = train_run(TINY, store, split=split, owner="me")
    fresh = train_run(TINY, store, split=split, owner="me")
    servers = train_run(TINY, store, split=split)  # nobody's: from the command line
    day_ago = time.time() - 25 * 3600
    for run_id in (old, servers):
        os.utime(tmp_path / run_id / "run.json", (day_ago, day_ago))
    upload = hosting.save_upload(b"zip bytes", "me", PUBLIC)
    os.utime(upload, (day_ago, day_ago))

    assert hosting.remove_expired(store, hosting.HostingLimits()) == []  # private: keeps all
    removed = hosting.remove_expired(store, PUBLIC)
    assert set(removed) == {old, upload.name}
    ids = {s.id for s in store.list_runs()}
    assert {fresh, servers, "demo"} <= ids and old not in ids
    assert not upload.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".deleting")]
