import os

import pytest
from hypothesis import settings

from glassnet import config
from glassnet.utils import set_random_seed

# The core test modules (those that declare ``pytestmark = pytest.mark.usefixtures("array_backend")``)
# run every test once per backend: NumPy, and array-api-strict, which rejects anything outside
# the Python array API standard. A test marked ``numpy_only`` (with its reason) runs on NumPy alone.
CORE_BACKENDS = ("numpy", "array_api_strict")


def pytest_generate_tests(metafunc):
    if "array_backend" in metafunc.fixturenames:
        numpy_only = metafunc.definition.get_closest_marker("numpy_only") is not None
        metafunc.parametrize("array_backend", ["numpy"] if numpy_only else CORE_BACKENDS, indirect=True)


@pytest.fixture
def array_backend(request):
    """The array backend a core test runs on (see CORE_BACKENDS)."""
    name = getattr(request, "param", "numpy")
    with config.use_backend(name):
        yield name

# Property-based tests explore random inputs on a developer's machine; in CI they replay a
# fixed, derandomised set so that a green run stays green, and no deadline on a shared box.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _isolate_global_settings():
    """Each test starts in float32 with a fixed glassnet seed, and leaves them so."""
    config.set_floatx("float32")
    set_random_seed(1234)
    yield
    config.set_floatx("float32")


@pytest.fixture
def float64():
    config.set_floatx("float64")
    yield
    config.set_floatx("float32")


@pytest.fixture
def circles_data():
    from glassnet.datasets import make_circles, train_test_split

    X, y = make_circles(n_samples=1000, factor=0.3, noise=0.1, random_state=0)
    return train_test_split(X, y, test_size=0.1, random_state=0)
