"""Model files: the format, round trips, clear errors for bad files, a fuzzed loader,
and atomic writes (a failed save never damages the previous file).

Every way a file can be wrong must end in one :class:`ModelFileError` that names the
file and the problem (or ``FileNotFoundError`` for a missing path). The fuzz tests
below feed the loader random bytes, truncations, byte edits and edited JSON; the
number of cases each ran is printed (``pytest -s``) and recorded as a junit property.
"""

import copy
import hashlib
import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassnet import saving
from glassnet.callbacks import Callback, ModelCheckpoint
from glassnet.layers import Dense, Dropout
from glassnet.models import Sequential, load_model
from glassnet.saving import FORMAT_VERSION, ModelFileError
from glassnet.utils import set_random_seed

pytestmark = pytest.mark.usefixtures("array_backend")


# --------------------------------------------------------------------------- helpers
def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(np.int64)
    return X, y


def _trained_model(epochs=2):
    set_random_seed(3)
    model = Sequential([
        Dense(5, input_dim=3, activation="relu"),
        Dropout(0.2),
        Dense(2, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    X, y = _data()
    model.fit(X, y, epochs=epochs, batch_size=8, verbose=0)
    return model


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _with_manifest(members, manifest):
    edited = dict(members)
    edited["glassnet.json"] = json.dumps(manifest).encode()
    return edited


def _npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _replace_array(members, name, data):
    """Swap one array file and update its checksum, as a deliberate tamperer would."""
    manifest = json.loads(members["glassnet.json"])
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    edited = _with_manifest(members, manifest)
    edited[name] = data
    return edited


def _load_error(path):
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message, message
    return message


@pytest.fixture
def saved(tmp_path):
    model = _trained_model()
    path = tmp_path / "model.glassnet"
    model.save(path)
    return model, path


# --------------------------------------------------------------------------- the format
def test_file_is_a_zip_of_json_and_npy_with_a_versioned_manifest(saved):
    model, path = saved
    members = _members(path)
    manifest = json.loads(members["glassnet.json"])
    assert manifest["format"] == "glassnet-model"
    assert manifest["format_version"] == FORMAT_VERSION == 1
    assert set(members) == {"glassnet.json", *manifest["files"]}
    assert sorted(n for n in members if n.startswith("weights/")) == [
        f"weights/{i}.npy" for i in range(4)
    ]
    assert {"optimizer/iterations.npy", "optimizer/momentums.npy", "optimizer/velocities.npy"} <= set(
        members
    )
    for name, entry in manifest["files"].items():
        assert entry == {"sha256": hashlib.sha256(members[name]).hexdigest(), "bytes": len(members[name])}
        # Every array reads without pickle.
        array = np.load(io.BytesIO(members[name]), allow_pickle=False)
        assert array.dtype.kind in "fiu"
    for i, weight in enumerate(model.get_weights()):
        stored = np.load(io.BytesIO(members[f"weights/{i}.npy"]), allow_pickle=False)
        assert np.array_equal(stored, weight) and stored.dtype == weight.dtype
    assert manifest["training"]["epoch"] == 2
    assert [layer["class_name"] for layer in manifest["model"]["layers"]] == ["Dense", "Dropout", "Dense"]


def test_no_pickle_anywhere_in_the_saving_module():
    source = open(saving.__file__, encoding="utf-8").read()
    assert "import pickle" not in source
    assert "allow_pickle=True" not in source


def test_round_trip_restores_weights_optimizer_epoch_and_random_state(saved):
    model, path = saved
    loaded = load_model(path)
    X, _ = _data(seed=5)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert loaded.epochs_trained == model.epochs_trained == 2
    original_state, loaded_state = model.optimizer.get_state(), loaded.optimizer.get_state()
    assert set(loaded_state) == set(original_state)
    for name in original_state:
        assert np.array_equal(loaded_state[name], original_state[name]), name
    assert loaded.optimizer.iterations == model.optimizer.iterations == 10
    assert loaded._rng.bit_generator.state == model._rng.bit_generator.state
    assert loaded.layers[1].rng.bit_generator.state == model.layers[1].rng.bit_generator.state
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


def test_saved_file_gets_ordinary_permissions_not_those_of_a_temporary_file(tmp_path):
    model = _trained_model(epochs=1)
    path = tmp_path / "model.glassnet"
    umask = os.umask(0o022)
    try:
        model.save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        os.chmod(path, 0o640)  # an existing file keeps its permissions
        model.save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    finally:
        os.umask(umask)


def test_saving_a_diverged_model_is_refused_and_the_old_file_kept(saved):
    model, path = saved
    before = path.read_bytes()
    model.layers[0].params["kernel"][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"'kernel' of layer .* NaN or infinite"):
        model.save(path)
    assert path.read_bytes() == before


def test_function_metrics_are_left_out_with_a_warning(tmp_path):
    model = Sequential([Dense(1, input_dim=2)])

    def my_error(y_true, y_pred):
        return np.abs(y_true - y_pred).mean(axis=1)

    model.compile(loss="mse", optimizer="sgd", metrics=[my_error, "mae"])
    model.fit(np.ones((4, 2)), np.ones(4), verbose=0)
    with pytest.warns(UserWarning, match="my_error"):
        model.save(tmp_path / "m.glassnet")
    loaded = load_model(tmp_path / "m.glassnet")
    assert loaded._metric_identifiers == ["mae"]


def test_save_into_a_missing_folder_names_the_folder(tmp_path):
    model = _trained_model(epochs=1)
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        model.save(tmp_path / "no" / "such" / "model.glassnet")
    assert str(tmp_path / "no" / "such") in str(info.value)


# --------------------------------------------------------------------------- bad files
def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.glassnet"):
        load_model(tmp_path / "nothing.glassnet")


def test_path_that_is_not_a_path_is_a_type_error():
    with pytest.raises(TypeError, match=r"filepath must be a path .* got None"):
        load_model(None)


def test_a_folder_is_not_a_model_file(tmp_path):
    assert "not a readable zip" in _load_error(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello", b"PK\x03\x04" + b"\x00" * 40])
def test_non_zip_content_is_a_model_file_error(tmp_path, content):
    path = tmp_path / "junk.glassnet"
    path.write_bytes(content)
    assert "not a glassnet model file" in _load_error(path)


def test_truncated_file(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _load_error(path)


def test_a_plain_zip_without_manifest(tmp_path):
    path = tmp_path / "other.glassnet"
    path.write_bytes(_zip_bytes({"readme.txt": b"hi"}))
    assert "'glassnet.json' is missing" in _load_error(path)


def test_wrong_format_version_names_both_versions(saved):
    _, path = saved
    members = _members(path)
    manifest = json.loads(members["glassnet.json"])
    manifest["format_version"] = 2
    path.write_bytes(_zip_bytes(_with_manifest(members, manifest)))
    message = _load_error(path)
    assert "version 2 is not supported" in message and "reads version 1" in message


def test_a_changed_weight_fails_its_checksum(saved):
    _, path = saved
    members = _members(path)
    weights = np.load(io.BytesIO(members["weights/0.npy"]))
    members["weights/0.npy"] = _npy(weights + 1)
    path.write_bytes(_zip_bytes(members))
    assert "'weights/0.npy' does not match its checksum" in _load_error(path)


def test_a_reshaped_weight_with_a_fixed_checksum_names_layer_and_shapes(saved):
    _, path = saved
    members = _members(path)
    path.write_bytes(_zip_bytes(_replace_array(members, "weights/0.npy", _npy(np.zeros((4, 5), "f4")))))
    message = _load_error(path)
    assert "(4, 5)" in message and "(3, 5)" in message and "'kernel'" in message


def test_huge_units_fail_on_the_shape_check_before_any_allocation(saved):
    _, path = saved
    members = _members(path)
    manifest = json.loads(members["glassnet.json"])
    manifest["model"]["layers"][0]["config"]["units"] = 10**12
    path.write_bytes(_zip_bytes(_with_manifest(members, manifest)))
    message = _load_error(path)
    assert "1000000000000" in message and "MemoryError" not in message


def test_negative_units_and_unknown_layer_class(saved):
    _, path = saved
    members = _members(path)
    manifest = json.loads(members["glassnet.json"])
    bad_units = copy.deepcopy(manifest)
    bad_units["model"]["layers"][2]["config"]["units"] = -3
    path.write_bytes(_zip_bytes(_with_manifest(members, bad_units)))
    assert "units must be an integer >= 1, got -3" in _load_error(path)
    bad_class = copy.deepcopy(manifest)
    bad_class["model"]["layers"][1]["class_name"] = "Conv2D"
    path.write_bytes(_zip_bytes(_with_manifest(members, bad_class)))
    assert "Unknown layer class 'Conv2D'" in _load_error(path)


def test_a_pickled_array_is_refused_and_never_unpickled(saved, tmp_path):
    _, path = saved
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = np.array([Payload()], dtype=object)
    members = _replace_array(_members(path), "weights/1.npy", _npy(evil, allow_pickle=True))
    path.write_bytes(_zip_bytes(members))
    assert "'weights/1.npy' is not a valid array" in _load_error(path)
    assert not marker.exists()


def test_nan_in_a_stored_array_is_refused(saved):
    _, path = saved
    members = _members(path)
    velocities = np.load(io.BytesIO(members["optimizer/velocities.npy"]))
    velocities[0] = np.nan
    path.write_bytes(_zip_bytes(_replace_array(members, "optimizer/velocities.npy", _npy(velocities))))
    assert "'optimizer/velocities.npy' contains NaN" in _load_error(path)


@pytest.mark.parametrize("epoch", [-1, 2.5, "3", True, None])
def test_invalid_epoch_count(saved, epoch):
    _, path = saved
    members = _members(path)
    manifest = json.loads(members["glassnet.json"])
    manifest["training"]["epoch"] = epoch
    path.write_bytes(_zip_bytes(_with_manifest(members, manifest)))
    assert "training.epoch must be a non-negative integer" in _load_error(path)


@pytest.mark.parametrize(
    "text, problem",
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # RecursionError
        (b"1" * 5000, "not valid JSON"),  # a 5000-digit int: Python's int-conversion limit
        (b"[]", "does not describe a glassnet model"),
    ],
    ids=["utf8", "deep-nesting", "huge-int", "not-an-object"],
)
def test_unparseable_manifest(saved, text, problem):
    _, path = saved
    members = _members(path)
    members["glassnet.json"] = text
    path.write_bytes(_zip_bytes(members))
    assert problem in _load_error(path)


def test_load_weights_errors(saved, tmp_path):
    model, path = saved
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="junk.npz"):
        model.load_weights(junk)
    other = Sequential([Dense(2, input_dim=3)])
    other.save_weights(tmp_path / "other.npz")
    with pytest.raises(ModelFileError, match="other.npz"):
        model.load_weights(tmp_path / "other.npz")


# --------------------------------------------------------------------------- fuzzing
def fuzz(max_examples):
    """Hypothesis settings for the loader fuzz tests (a fixed budget, no deadline)."""
    return settings(
        max_examples=max_examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


@pytest.fixture(scope="module")
def fuzz_files(tmp_path_factory):
    """A good model file, its members and manifest, and a scratch path to write cases to."""
    folder = tmp_path_factory.mktemp("fuzz")
    model = _trained_model()
    good = folder / "good.glassnet"
    model.save(good)
    members = _members(good)
    return {
        "bytes": good.read_bytes(),
        "members": members,
        "manifest": json.loads(members["glassnet.json"]),
        "case": folder / "case.glassnet",
    }


def _only_model_file_error(path, data):
    """Loading ``data`` either works or raises ModelFileError naming the file."""
    path.write_bytes(data)
    try:
        load_model(path)
    except ModelFileError as exc:
        assert str(path) in str(exc)
        return "error"
    return "loaded"


def _report(record_property, label, outcomes):
    total = sum(outcomes.values())
    print(f"\nfuzz {label}: {total} cases, outcomes {dict(outcomes)}")
    record_property(f"fuzz_cases_{label}", total)
    return total


def test_fuzz_random_bytes(fuzz_files, record_property):
    outcomes = {"error": 0, "loaded": 0}

    @fuzz(200)
    @given(data=st.one_of(st.binary(max_size=600), st.binary(max_size=60).map(lambda b: b"PK\x03\x04" + b)))
    def check(data):
        outcomes[_only_model_file_error(fuzz_files["case"], data)] += 1

    check()
    assert _report(record_property, "random_bytes", outcomes) >= 150
    assert outcomes["loaded"] == 0


def test_fuzz_truncations(fuzz_files, record_property):
    good = fuzz_files["bytes"]
    outcomes = {"error": 0, "loaded": 0}

    @fuzz(200)
    @given(length=st.integers(min_value=0, max_value=len(good) - 1))
    def check(length):
        outcomes[_only_model_file_error(fuzz_files["case"], good[:length])] += 1

    check()
    assert _report(record_property, "truncations", outcomes) >= 150
    assert outcomes["loaded"] == 0  # the zip directory sits at the end: no prefix is a file


def test_fuzz_byte_edits_of_the_zip(fuzz_files, record_property):
    good = fuzz_files["bytes"]
    outcomes = {"error": 0, "loaded": 0}
    edit = st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255))

    @fuzz(300)
    @given(edits=st.lists(edit, min_size=1, max_size=8))
    def check(edits):
        data = bytearray(good)
        for position, value in edits:
            data[position] = value
        outcomes[_only_model_file_error(fuzz_files["case"], bytes(data))] += 1

    check()
    assert _report(record_property, "byte_edits", outcomes) >= 250


def _json_paths(value, prefix=()):
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_paths(item, (*prefix, index))


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([-1, 0, 10**9, 10**12, 2**63, -(2**63), 10**400]),  # huge numbers
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["Dense", "Dropout", "Flatten", "Activation", "Layer", "softmax", "float16"]),
    st.lists(st.integers(min_value=-3, max_value=10**7), max_size=3),  # shapes
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=3),
)


def test_fuzz_json_values_replaced_and_keys_deleted(fuzz_files, record_property):
    manifest, members = fuzz_files["manifest"], fuzz_files["members"]
    paths = list(_json_paths(manifest))
    outcomes = {"error": 0, "loaded": 0}
    change = st.tuples(st.sampled_from(paths), st.one_of(JSON_VALUES, st.just("<delete>")))

    @fuzz(600)
    @given(changes=st.lists(change, min_size=1, max_size=3))
    def check(changes):
        edited = copy.deepcopy(manifest)
        for path, value in changes:
            parent = edited
            try:
                for key in path[:-1]:
                    parent = parent[key]
                if value == "<delete>":
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = value
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed or replaced this path
        data = _zip_bytes(_with_manifest(members, edited))
        outcomes[_only_model_file_error(fuzz_files["case"], data)] += 1

    check()
    assert _report(record_property, "json_edits", outcomes) >= 500


def test_fuzz_json_text_edits(fuzz_files, record_property):
    text, members = fuzz_files["members"]["glassnet.json"], fuzz_files["members"]
    outcomes = {"error": 0, "loaded": 0}
    edit = st.tuples(
        st.integers(0, len(text) - 1), st.sampled_from(["replace", "delete", "insert"]),
        st.sampled_from(list(b'0123456789-.eE"{}[],:ntf ')),
    )

    @fuzz(200)
    @given(edits=st.lists(edit, min_size=1, max_size=5))
    def check(edits):
        data = bytearray(text)
        for position, kind, byte in edits:
            position = min(position, len(data) - 1)
            if kind == "replace":
                data[position] = byte
            elif kind == "delete":
                del data[position]
            else:
                data.insert(position, byte)
        edited = dict(members)
        edited["glassnet.json"] = bytes(data)
        outcomes[_only_model_file_error(fuzz_files["case"], _zip_bytes(edited))] += 1

    check()
    assert _report(record_property, "json_text_edits", outcomes) >= 150


# --------------------------------------------------------------------------- atomic writes
def _listing(folder):
    return sorted(os.listdir(folder))


def _assert_intact(path, before):
    assert path.read_bytes() == before
    assert _listing(path.parent) == [path.name], "a temporary file was left behind"
    load_model(path)


class _DiskFull(OSError):
    pass


def test_failing_zip_member_write_keeps_the_previous_file(saved, monkeypatch):
    model, path = saved
    before = path.read_bytes()
    calls = {"n": 0}
    original = zipfile.ZipFile.writestr

    def failing_writestr(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise _DiskFull("No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(_DiskFull):
        model.save(path)
    _assert_intact(path, before)


@pytest.mark.parametrize("fail_after", [0, 1, 100, 1000, 3000])
def test_failing_file_write_after_some_bytes_keeps_the_previous_file(saved, monkeypatch, fail_after):
    model, path = saved
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class ShortDisk(io.RawIOBase):
        """A file handle that accepts ``fail_after`` bytes, then fails as a full disk does."""

        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def writable(self):
            return True

        def write(self, data):
            if self.written + len(data) > fail_after:
                raise _DiskFull("No space left on device")
            self.written += len(data)
            return self.handle.write(data)

        def tell(self):
            return self.handle.tell()

        def seekable(self):
            return False

        def fileno(self):
            return self.handle.fileno()

        def close(self):
            self.handle.close()
            super().close()

    monkeypatch.setattr(saving.os, "fdopen", lambda fd, mode: ShortDisk(real_fdopen(fd, mode)))
    with pytest.raises(_DiskFull):
        model.save(path)
    monkeypatch.undo()
    _assert_intact(path, before)


def test_failing_rename_keeps_the_previous_file(saved, monkeypatch):
    model, path = saved
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError("rename refused")

    monkeypatch.setattr(saving.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        model.save(path)
    monkeypatch.undo()
    _assert_intact(path, before)


def test_ctrl_c_during_a_save_keeps_the_previous_file(saved, monkeypatch):
    model, path = saved
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    _assert_intact(path, before)


def test_failing_save_weights_keeps_the_previous_file(tmp_path, monkeypatch):
    model = _trained_model(epochs=1)
    path = tmp_path / "weights.npz"
    model.save_weights(path)
    before = path.read_bytes()
    monkeypatch.setattr(saving.os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("EIO")))
    with pytest.raises(OSError, match="EIO"):
        model.save_weights(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["weights.npz"]


def test_model_checkpoint_failing_mid_run_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """The third epoch's save fails: fit raises, the file still holds epoch 2, nothing is
    left behind, and the model is finite and can be trained on."""
    set_random_seed(0)
    model = Sequential([Dense(4, input_dim=3, activation="relu"), Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    path = tmp_path / "ckpt.glassnet"
    real_replace = os.replace
    saves = {"n": 0}

    def replace_failing_on_third_save(src, dst):
        saves["n"] += 1
        if saves["n"] == 3:
            raise _DiskFull("No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(saving.os, "replace", replace_failing_on_third_save)
    X, y = _data()
    with pytest.raises(_DiskFull):
        model.fit(X, y, epochs=5, batch_size=8, verbose=0, callbacks=[ModelCheckpoint(path)])
    monkeypatch.undo()
    assert _listing(tmp_path) == ["ckpt.glassnet"]
    assert load_model(path).epochs_trained == 2
    assert np.isfinite(model.parameters).all()
    history = model.fit(X, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_model_checkpoint_does_not_overwrite_a_good_file_with_diverged_weights(tmp_path):
    """Epochs 1-2 train normally; a callback then poisons the weights (as a diverging
    step would). The checkpoint must keep the epoch-2 file and warn, even at verbose=0."""
    set_random_seed(0)
    model = Sequential([Dense(4, input_dim=3, activation="relu"), Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    path = tmp_path / "ckpt.glassnet"

    class Diverge(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.layers[0].params["kernel"][...] = np.inf

    X, y = _data()
    with pytest.warns(RuntimeWarning, match="Epoch 3: ModelCheckpoint is not saving"):
        model.fit(X, y, epochs=3, verbose=0, callbacks=[Diverge(), ModelCheckpoint(path)])
    assert load_model(path).epochs_trained == 2
    assert _listing(tmp_path) == ["ckpt.glassnet"]


def test_model_checkpoint_filepath_with_an_unknown_field_says_which(tmp_path):
    model = Sequential([Dense(2, input_dim=3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    X, y = _data()
    checkpoint = ModelCheckpoint(tmp_path / "ckpt-{val_loss:.2f}.glassnet")
    with pytest.raises(ValueError, match=r"ckpt-\{val_loss:.2f\}.*'val_loss'.*available fields: epoch, loss"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[checkpoint])
