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

from glassnet import fileformat, saving
from glassnet.callbacks import Callback, ModelCheckpoint
from glassnet.layers import Dense, Dropout
from glassnet.models import Sequential, load_model
from glassnet.saving import FORMAT_VERSION, ModelFileError
from glassnet.utils import set_random_seed

pytestmark = pytest.mark.usefixtures("array_backend")
FILES_ONLY = pytest.mark.numpy_only("file handling does not depend on the array backend")


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


def test_no_pickle_anywhere_in_the_saving_modules():
    for module in (saving, fileformat):
        source = open(module.__file__, encoding="utf-8").read()
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
    """Loading ``data`` either works, giving finite weights and optimizer state, or raises
    ModelFileError naming the file."""
    path.write_bytes(data)
    try:
        model = load_model(path)
    except ModelFileError as exc:
        assert str(path) in str(exc)
        return "error"
    assert all(np.isfinite(w).all() for w in model.get_weights())
    if model.optimizer is not None:
        assert all(np.isfinite(v).all() for v in model.optimizer.get_state().values())
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
    st.sampled_from([3.5e38, -1e300, 1e308]),  # finite in float64, infinite in float32
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


#: Array members as a hostile file holds them: shapes far beyond the model's (bombs), 0-d
#: and empty, dtypes the loader must refuse, values that overflow float32 once cast.
ARRAY_SHAPES = st.one_of(
    st.lists(st.integers(0, 6), max_size=3).map(tuple),
    st.sampled_from([(2**31,), (2**40, 2**20), (10**12,), (3, 10**9), (0,), (), (1, 1, 1, 1, 1)]),
)
ARRAY_DTYPES = st.sampled_from(["<f4", "<f8", ">f8", "<f2", "<i8", "|u1", "|b1", "<c16", "|O", "<U4",
                                "|V8", "<f16", "<M8[s]"])
ARRAY_VALUES = st.sampled_from([0.0, 1.0, -2.5, 1e300, -1e300, 3.5e38, float("nan"), float("inf"), 2**62])


def _hostile_npy(shape, dtype, value, data_elements, padding):
    """An .npy header for ``shape``/``dtype`` followed by ``data_elements`` values (not
    necessarily as many as the shape needs) and ``padding`` zero bytes."""
    header = _npy_header(shape, dtype)
    try:
        with np.errstate(all="ignore"):
            data = np.full(data_elements, value).astype(dtype).tobytes()
    except (TypeError, ValueError, OverflowError):
        data = bytes(data_elements * 8)
    return header + data + bytes(padding)


@FILES_ONLY
def test_fuzz_stored_arrays_bombs_and_overflows(fuzz_files, record_property):
    """Each case replaces one array member (weights or optimizer state) and forges its
    manifest entry: a correct checksum, or a size claim of up to 10**12 bytes."""
    members, manifest = fuzz_files["members"], fuzz_files["manifest"]
    outcomes = {"error": 0, "loaded": 0}

    @fuzz(300)
    @given(
        name=st.sampled_from(sorted(manifest["files"])), shape=st.one_of(st.none(), ARRAY_SHAPES),
        dtype=ARRAY_DTYPES, value=ARRAY_VALUES, data_elements=st.one_of(st.none(), st.integers(0, 64)),
        padding=st.sampled_from([0, 0, 1, 7, 5000]), claimed=st.sampled_from([None, None, 0, 10**6, 10**12]),
    )
    def check(name, shape, dtype, value, data_elements, padding, claimed):
        if shape is None:  # the member's true shape: the header passes, the values must be checked
            shape = np.load(io.BytesIO(members[name])).shape
        if data_elements is None:  # as many values as the shape needs
            data_elements = int(np.prod(shape)) if np.prod(shape, dtype=float) <= 1000 else 0
        data = _hostile_npy(shape, dtype, value, data_elements, padding)
        edited = _replace_array(members, name, data)
        if claimed is not None:
            forged = json.loads(edited["glassnet.json"])
            forged["files"][name]["bytes"] = claimed
            edited = _with_manifest(edited, forged)
        outcomes[_only_model_file_error(fuzz_files["case"], _zip_bytes(edited))] += 1

    check()
    assert _report(record_property, "stored_arrays", outcomes) >= 250
    assert outcomes["error"] > 0


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

    monkeypatch.setattr(fileformat.os, "fdopen", lambda fd, mode: ShortDisk(real_fdopen(fd, mode)))
    with pytest.raises(_DiskFull):
        model.save(path)
    monkeypatch.undo()
    _assert_intact(path, before)


def test_failing_rename_keeps_the_previous_file(saved, monkeypatch):
    model, path = saved
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError("rename refused")

    monkeypatch.setattr(fileformat.os, "replace", failing_replace)
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
    monkeypatch.setattr(fileformat.os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("EIO")))
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

    monkeypatch.setattr(fileformat.os, "replace", replace_failing_on_third_save)
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


# --------------------------------------------------------------------------- bombs and overflow
def _npy_header(shape, dtype="<f4"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _deflated_zeros(prefix, gib):
    """A raw-deflate stream of ``prefix`` then ``gib`` GiB of zero bytes, made without ever
    holding them: a full flush resets the compressor, so every 1 MiB of zeros compresses to
    the same block, which is repeated. About 1 KB per MiB: ~3 MB for 3 GiB."""
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(2**20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + block * (gib * 1024) + compressor.flush(), len(prefix) + gib * 2**30


def _raw_zip(members):
    """A zip archive written by hand from ``(name, deflated_bytes, crc, file_size)``: the sizes
    in its directory are whatever the caller says, as in a forged file."""
    import struct

    local, central = bytearray(), bytearray()
    for name, data, crc, size in members:
        encoded = name.encode()
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size,
                             len(encoded), 0) + encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data),
                               size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                      len(local), 0)
    return bytes(local + central + end)


def _bomb_file(members, manifest, bomb_name, header, claimed=None):
    """The good file's members, with ``bomb_name`` replaced by ``header`` then 3 GiB of zeros,
    whose manifest entry claims that size; so does the zip directory, or it lies, claiming
    ``claimed`` bytes (with the CRC of those first bytes, so that zipfile reads them)."""
    import zlib

    deflated, size = _deflated_zeros(header, 3)
    manifest = copy.deepcopy(manifest)
    manifest["files"][bomb_name]["bytes"] = size
    entries = []
    for name, data in _with_manifest(members, manifest).items():
        if name == bomb_name:
            crc = 0 if claimed is None else zlib.crc32(header + bytes(claimed - len(header)))
            entries.append((name, deflated, crc, size if claimed is None else claimed))
        else:
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            entries.append((name, packer.compress(data) + packer.flush(), zlib.crc32(data), len(data)))
    return _raw_zip(entries)


#: Loads a file in a fresh process whose address space is capped at what it uses after
#: importing plus ``HEADROOM`` MiB, and prints the outcome and the peak memory growth.
_MEASURE = """
import json, resource, sys, time
import numpy as np
import glassnet
from glassnet.models import Sequential, load_model
from glassnet.layers import Dense
from glassnet.saving import ModelFileError
HEADROOM = 512
pages = int(open("/proc/self/statm").read().split()[0])
limit = pages * resource.getpagesize() + HEADROOM * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    if sys.argv[2] == "model":
        load_model(sys.argv[1])
    else:
        model = Sequential([Dense(5, input_dim=3, activation="relu"), Dense(2, activation="softmax")])
        model.build()
        model.load_weights(sys.argv[1])
    outcome = "loaded"
except ModelFileError as exc:
    outcome = "ModelFileError: " + str(exc)
except BaseException as exc:
    outcome = type(exc).__name__ + ": " + str(exc)
grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"outcome": outcome, "grown_mib": grown_mib, "seconds": time.perf_counter() - start}))
"""


def _load_in_a_capped_process(path, kind="model"):
    import subprocess
    import sys

    if not os.path.exists("/proc/self/statm"):
        pytest.skip("measuring a process's memory needs Linux's /proc")
    source = os.path.join(os.path.dirname(saving.__file__), os.pardir)
    completed = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), kind], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.path.abspath(source), "OPENBLAS_NUM_THREADS": "1"},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@FILES_ONLY
@pytest.mark.parametrize("lie", [False, True], ids=["honest-directory", "lying-directory"])
def test_a_3_mb_zip_bomb_is_refused_without_decompressing_it(saved, lie):
    """weights/0.npy holds a valid header for its (3, 5) kernel followed by 3 GiB of zeros
    (~3 MB deflated). The manifest claims 3 GiB; so does the zip directory, or (lying) it
    claims the kernel's true size. Either way: one ModelFileError, and the process grows by
    a few MiB, not the 3-6 GiB of reading the member whole."""
    _, path = saved
    members = _members(path)
    manifest = json.loads(members["glassnet.json"])
    header = _npy_header((3, 5))
    claimed = len(header) + 60 if lie else None
    data = _bomb_file(members, manifest, "weights/0.npy", header, claimed)
    assert 2_000_000 < len(data) < 4_000_000
    path.write_bytes(data)
    result = _load_in_a_capped_process(path)
    assert result["outcome"].startswith("ModelFileError: "), result
    assert str(path) in result["outcome"] and "weights/0.npy" in result["outcome"]
    assert result["grown_mib"] < 64, result


@FILES_ONLY
def test_a_bomb_with_a_huge_header_shape_stops_at_the_header(saved):
    _, path = saved
    members = _members(path)
    manifest = json.loads(members["glassnet.json"])
    header = _npy_header((2**28,))  # the directory claims the size of the true (32,) buffer
    path.write_bytes(_bomb_file(members, manifest, "optimizer/momentums.npy", header, len(header) + 128))
    result = _load_in_a_capped_process(path)
    assert result["outcome"].startswith("ModelFileError: "), result
    assert "optimizer/momentums.npy" in result["outcome"] and "268435456" in result["outcome"]
    assert result["grown_mib"] < 64, result


@FILES_ONLY
def test_load_weights_npz_bomb_and_member_flood_are_refused_before_reading(tmp_path):
    import zlib

    deflated, size = _deflated_zeros(_npy_header((3, 5)), 3)
    bomb = tmp_path / "bomb.npz"
    bomb.write_bytes(_raw_zip([("w0.npy", deflated, 0, size)] + [
        (f"w{i}.npy", zlib.compress(b"")[2:-4], 0, 0) for i in range(1, 4)
    ]))
    result = _load_in_a_capped_process(bomb, kind="weights")
    assert result["outcome"].startswith("ModelFileError: "), result
    assert "w0.npy" in result["outcome"] and result["grown_mib"] < 64, result
    model = Sequential([Dense(5, input_dim=3, activation="relu"), Dense(2, activation="softmax")])
    model.build()
    flood = tmp_path / "flood.npz"  # 20 000 arrays for a model of 4: refused by their names alone
    with zipfile.ZipFile(flood, "w") as zf:
        for i in range(20_000):
            zf.writestr(f"w{i}.npy", _npy(np.zeros(1, "f4")))
    with pytest.raises(ModelFileError, match=r"has 4 weight arrays.*20000 in all"):
        model.load_weights(flood)


@FILES_ONLY
def test_a_float64_weight_that_overflows_float32_is_refused_after_the_cast(saved, tmp_path):
    _, path = saved
    members = _members(path)
    kernel = np.load(io.BytesIO(members["weights/2.npy"])).astype(np.float64)
    kernel[1, 0] = 1e300
    path.write_bytes(_zip_bytes(_replace_array(members, "weights/2.npy", _npy(kernel))))
    message = _load_error(path)
    assert "'weights/2.npy' holds 1e+300" in message and "float32" in message
    model = _trained_model(epochs=1)
    weights = [w.astype(np.float64) for w in model.get_weights()]
    weights[0][0, 0] = -1e300
    np.savez(tmp_path / "w.npz", **{f"w{i}": w for i, w in enumerate(weights)})
    with pytest.raises(ModelFileError, match=r"w\.npz.*'w0\.npy' holds -1e\+300.*float32"):
        model.load_weights(tmp_path / "w.npz")


@FILES_ONLY
@pytest.mark.parametrize("where", ["activation", "optimizer"])
def test_a_hyperparameter_that_overflows_the_model_dtype_is_refused(tmp_path, where):
    """alpha = 1e308 is a float64 number, but infinity in a float32 model (which then
    predicted NaN); a learning rate of 1e300 likewise."""
    set_random_seed(0)
    model = Sequential([Dense(4, input_dim=3, activation="leaky_relu"), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    path = tmp_path / "m.glassnet"
    model.save(path)
    members = _members(path)
    manifest = json.loads(members["glassnet.json"])
    if where == "activation":
        manifest["model"]["layers"][0]["config"]["activation"]["alpha"] = 1e308
        expected = "model.layers.0.config.activation.alpha = 1e+308 is not a finite float32"
    else:
        manifest["compile"]["optimizer"]["learning_rate"] = 1e300
        expected = "compile.optimizer.learning_rate = 1e+300 is not a finite float32"
    path.write_bytes(_zip_bytes(_with_manifest(members, manifest)))
    assert expected in _load_error(path)


# --------------------------------------------------------------------------- where a save writes
@FILES_ONLY
def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    """The link lives in one folder, its target in another: the target is replaced (from a
    temporary file in the target's folder) and the link still points at it."""
    model = _trained_model(epochs=1)
    links, store = tmp_path / "links", tmp_path / "store"
    links.mkdir()
    store.mkdir()
    target, link = store / "real.glassnet", links / "model.glassnet"
    model.save(target)
    link.symlink_to(target)
    hard = store / "hard.glassnet"
    os.link(target, hard)
    old_kernel = model.get_weights()[0]
    model.fit(*_data(), epochs=2, verbose=0)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert np.array_equal(load_model(target).get_weights()[0], model.get_weights()[0])
    assert _listing(links) == ["model.glassnet"] and _listing(store) == ["hard.glassnet", "real.glassnet"]
    # A hard link keeps the old file (the save renames a new file into place, as it must to be atomic).
    assert np.array_equal(load_model(hard).get_weights()[0], old_kernel)
    dangling = links / "new.glassnet"
    dangling.symlink_to(store / "created.glassnet")
    model.save(dangling)
    assert dangling.is_symlink()
    assert np.array_equal(load_model(store / "created.glassnet").get_weights()[0], model.get_weights()[0])


@FILES_ONLY
def test_saving_onto_a_fifo_is_refused_and_the_fifo_kept(tmp_path):
    model = _trained_model(epochs=1)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for save in (model.save, model.save_weights):
        with pytest.raises(ValueError, match=r"filepath '.*pipe' is a FIFO \(named pipe\)"):
            save(fifo)
    link = tmp_path / "to-pipe.glassnet"
    link.symlink_to(fifo)
    with pytest.raises(ValueError, match=r"to-pipe.glassnet \(-> .*pipe\)' is a FIFO"):
        model.save(link)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and link.is_symlink()
    assert _listing(tmp_path) == ["pipe", "to-pipe.glassnet"]


@FILES_ONLY
def test_loading_a_fifo_is_refused_instead_of_waiting_for_a_writer(tmp_path):
    """Opening a FIFO for reading blocks until someone writes: the loader must not open it."""
    import subprocess
    import sys

    fifo = tmp_path / "pipe.glassnet"
    os.mkfifo(fifo)
    script = (
        "import sys\n"
        "from glassnet.layers import Dense\n"
        "from glassnet.models import Sequential, load_model\n"
        "from glassnet.saving import ModelFileError\n"
        "model = Sequential([Dense(1, input_dim=2)])\n"
        "for load in (load_model, model.load_weights):\n"
        "    try:\n"
        "        load(sys.argv[1])\n"
        "    except ModelFileError as exc:\n"
        "        print(exc)\n"
    )
    source = os.path.abspath(os.path.join(os.path.dirname(saving.__file__), os.pardir))
    completed = subprocess.run([sys.executable, "-c", script, str(fifo)], capture_output=True, text=True,
                               timeout=60, env={**os.environ, "PYTHONPATH": source})
    lines = completed.stdout.splitlines()
    assert len(lines) == 2 and all("is a FIFO (named pipe), not a model file" in line for line in lines), (
        completed.stdout + completed.stderr)


@FILES_ONLY
def test_saving_onto_a_character_device_is_refused(tmp_path):
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot make a character device here (needs root with CAP_MKNOD): {exc}")
    model = _trained_model(epochs=1)
    with pytest.raises(ValueError, match="is a character device"):
        model.save(device)
    assert stat.S_ISCHR(os.stat(device).st_mode)


@FILES_ONLY
def test_an_empty_path_or_a_folder_is_named_as_the_filepath_parameter(tmp_path):
    model = _trained_model(epochs=1)
    with pytest.raises(ValueError, match="filepath must name a file, got an empty path") as info:
        model.save("")
    assert ".tmp" not in str(info.value)
    with pytest.raises(IsADirectoryError, match=r"filepath '.*' is a folder") as info:
        model.save(tmp_path)
    assert ".tmp" not in str(info.value) and "model.glassnet" in str(info.value)
    with pytest.raises(IsADirectoryError, match="filepath"):
        model.save_weights(tmp_path)
    assert _listing(tmp_path) == []


@FILES_ONLY
def test_stale_temporary_files_of_a_killed_save_are_removed_on_the_next_save(saved):
    model, path = saved
    dead = _a_finished_process_id()
    stale = path.parent / f".{path.name}.{dead}.k3j_x9q2.tmp"
    stale.write_bytes(b"half a model")
    live = path.parent / f".{path.name}.{os.getppid()}.abcdefgh.tmp"  # a live process's: kept
    live.write_bytes(b"being written")
    other = path.parent / f".other.glassnet.{dead}.k3j_x9q2.tmp"  # another target's: kept
    other.write_bytes(b"not ours")
    model.save(path)
    assert _listing(path.parent) == sorted([other.name, live.name, path.name])


def _a_finished_process_id():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@FILES_ONLY
def test_sigkill_during_a_save_leaves_a_temporary_file_that_the_next_save_removes(saved):
    """A real SIGKILL: a child process stops inside the save (its temporary file written,
    not yet renamed) and is killed. The old file is intact; the next save cleans up."""
    import signal
    import subprocess
    import sys

    model, path = saved
    before = path.read_bytes()
    script = (
        "import os, sys, time\n"
        "from glassnet import fileformat\n"
        "from glassnet.models import load_model\n"
        "model = load_model(sys.argv[1])\n"
        "def stop(src, dst):\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "fileformat.os.replace = stop\n"
        "model.save(sys.argv[1])\n"
    )
    source = os.path.abspath(os.path.join(os.path.dirname(saving.__file__), os.pardir))
    child = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": source})
    try:
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    orphans = [name for name in _listing(path.parent) if name.endswith(".tmp")]
    assert len(orphans) == 1 and orphans[0].startswith(f".{path.name}.{child.pid}.")
    assert path.read_bytes() == before
    model.save(path)
    assert _listing(path.parent) == [path.name]


@FILES_ONLY
@pytest.mark.parametrize("name", ["model.h5", "weights.best.hdf5", "model.keras"])
def test_saving_to_a_keras_file_name_says_the_file_is_glassnets_own_format(tmp_path, name):
    model = _trained_model(epochs=1)
    with pytest.warns(UserWarning, match=r"glassnet's own format.*not HDF5.*load_model") as record:
        model.save(tmp_path / name)
    assert record[0].filename == __file__  # points at the caller's line
    assert load_model(tmp_path / name).epochs_trained == 1


@FILES_ONLY
def test_refuse_same_file_compares_files_not_strings(tmp_path):
    source = tmp_path / "a.glassnet"
    source.write_bytes(b"x")
    (tmp_path / "hard.glassnet").hardlink_to(source)
    (tmp_path / "soft.glassnet").symlink_to(source)
    for target in (source, tmp_path / "." / "a.glassnet", tmp_path / "hard.glassnet",
                   tmp_path / "soft.glassnet"):
        with pytest.raises(ValueError, match="is the same file as model"):
            saving.refuse_same_file("model", source, "output", target)
    saving.refuse_same_file("model", source, "output", tmp_path / "b.onnx")  # does not exist yet: fine
    (tmp_path / "b.onnx").write_bytes(b"x")
    saving.refuse_same_file("model", source, "output", tmp_path / "b.onnx")
