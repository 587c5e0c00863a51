"""CUDA tensors: every op on device='cuda' equals the CPU path, values and gradients.

Runs under numba's CUDA simulator (tests/cuda_setup.py; SORIX_TEST_CUDA=gpu
runs on a real GPU), with the simulator's arrays cut down to a real device
array's API (``device_api_only``), so that NumPy slipping onto ``.data``
fails here as it would on a GPU. The simulator runs each CUDA thread in
Python: shapes are tiny.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
from conftest import DTYPES, rand_seeded as rand, unary_call  # noqa: E402
from cuda_setup import (assert_same, device_api_only, fast_thread_switching,  # noqa: E402,F401
                        host, on_both)
from sorix.kernels.defs import BINARY, UNARY  # noqa: E402

import naive  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---- the device model -------------------------------------------------------------

def test_availability_and_device_names():
    assert sorix.cuda.is_available() and sorix.cuda.device_count() >= 1
    x = sorix.tensor([1.0, 2.0], device="cuda")
    assert x.device == sorix.device("cuda:0") and x.device.type == "cuda" and x.is_cuda
    assert C.is_device_array(x.data)  # .data IS the device array
    assert repr(x) == "tensor([1., 2.], device='cuda:0')"
    assert repr(sorix.tensor([1.0], device="cuda", dtype=sorix.float64, requires_grad=True)) \
        == "tensor([1.], device='cuda:0', dtype=sorix.float64, requires_grad=True)"
    with pytest.raises(RuntimeError, match="cuda:1"):  # sorix runs on one GPU, cuda:0
        sorix.tensor([1.0], device="cuda:1")


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_and_conversions(dtype):
    a = rand((2, 3), dtype)
    x = sorix.tensor(a, device="cuda")
    assert x.dtype == dtype and x.shape == (2, 3)
    back = x.to("cpu")
    assert back.device == sorix.device("cpu") and isinstance(back.data, np.ndarray)
    np.testing.assert_array_equal(back.data, a)
    np.testing.assert_array_equal(x.numpy(), a)  # .numpy() copies to the host
    np.testing.assert_array_equal(np.asarray(x), a)
    assert x.cpu().cuda().device.type == "cuda" and x.to("cuda") is x
    assert x.tolist() == a.tolist()
    assert x[1, 2].item() == pytest.approx(float(a[1, 2]))
    assert float(x.sum()) == pytest.approx(float(a.sum(dtype=np.float64)), rel=1e-5)
    assert x.double().dtype == sorix.float64 and x.double().is_cuda
    assert sorix.Tensor(sorix.tensor(a).cuda()).is_cuda


def test_transfer_keeps_the_graph():
    a = rand((2, 3))
    x = sorix.tensor(a, requires_grad=True)  # a CPU leaf
    y = (x.to("cuda") * 3.0).sum()  # computed on the GPU
    y.backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 3.0))
    z = sorix.tensor(a, device="cuda", requires_grad=True)
    (z.cpu() ** 2).sum().backward()
    assert z.grad.is_cuda
    np.testing.assert_allclose(host(z.grad), 2 * a, rtol=1e-6)


def test_device_arrays_are_used_without_a_copy():
    d = C.to_device(rand((3,)))
    t = sorix.Tensor(d)
    assert t.data is d and t.is_cuda
    assert sorix.as_tensor(d).data is d
    copied = sorix.tensor(d)
    assert copied.is_cuda and copied.data is not d
    np.testing.assert_array_equal(host(copied), C.to_host(d))


def test_factories_on_the_device():
    before = C.transfer_counts()
    z = sorix.zeros(2, 3, device="cuda")
    o = sorix.ones((2,), device="cuda", dtype=sorix.float64)
    f = sorix.full((2, 2), 7, device="cuda")
    e = sorix.empty(4, device="cuda")
    like = sorix.zeros_like(o)
    assert C.transfer_counts() == before  # made on the device, nothing copied
    for t in (z, o, f, e, like):
        assert t.is_cuda
    assert f.dtype == sorix.int64 and like.dtype == sorix.float64
    np.testing.assert_array_equal(host(f), np.full((2, 2), 7))
    sorix.manual_seed(3)
    r_cpu = sorix.randn(3, 2)
    sorix.manual_seed(3)
    r_gpu = sorix.randn(3, 2, device="cuda")
    assert_same(r_cpu, r_gpu)  # one seed, the same draws on both devices
    for make in (lambda d: sorix.arange(5, device=d), lambda d: sorix.eye(3, device=d),
                 lambda d: sorix.linspace(0, 1, 4, device=d), lambda d: sorix.randint(0, 3, (4,), device=d)):
        sorix.manual_seed(1)
        cpu = make("cpu")
        sorix.manual_seed(1)
        assert_same(cpu, make("cuda"))


def test_mixing_devices_raises():
    a = sorix.tensor([1.0, 2.0])
    b = sorix.tensor([1.0, 2.0], device="cuda")
    message = r"expected all tensors on the same device, found cpu and cuda:0; move one with \.to"
    for op in (lambda: a + b, lambda: a @ b, lambda: sorix.cat([a, b]),
               lambda: sorix.where(b > 0, a, b), lambda: a == b,
               lambda: sorix.nn.MSELoss()(a, b), lambda: a[b.long()]):
        with pytest.raises(RuntimeError, match=message):
            op()
    with pytest.raises(RuntimeError, match="found cuda:0 and cpu"):
        b * a
    w = sorix.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError, match="found cuda:0 and cpu"):
        (w * 2).backward(a)  # the upstream gradient too


def test_plain_values_go_to_the_device():
    x = sorix.tensor([1.0, 2.0, 3.0], device="cuda")
    before = C.transfer_counts()
    y = x * 2 + 0.5 - x / 4.0  # Python scalars are filled on the device
    assert C.transfer_counts() == before
    assert y.dtype == sorix.float32 and y.is_cuda
    z = x + np.array([1.0, 1.0, 1.0], np.float32)  # host arrays are copied there
    np.testing.assert_allclose(host(z), [2.0, 3.0, 4.0])


# ---- elementwise ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_ops(dtype):
    for name in sorted(UNARY):
        x = naive.into_domain(name, rand((2, 3), dtype, -3.0, 3.0))
        if name in naive.POSITIVE_DOMAIN:
            x = x + dtype(0.1)  # (away from 0)
        on_both(unary_call(name, naive.unary_params(name)), x)
    on_both(lambda x: -x, rand((4,), dtype))


BROADCASTS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2)), ((3, 1), (3, 4))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_with_broadcasting(name, dtype):
    for i, (sa, sb) in enumerate(BROADCASTS):
        a = rand(sa, dtype, 0.5, 2.0, seed=i)
        b = rand(sb, dtype, 0.5, 2.0, seed=i + 10)
        on_both(lambda x, y: getattr(sorix, name)(x, y), a, b)


def test_mixed_dtypes_and_scalars():
    a, b = rand((2, 3)), rand((3,), np.float64)
    on_both(lambda x, y: x * y + 1, a, b)  # float32 * float64 -> float64
    on_both(lambda x, y: x / y, np.arange(6).reshape(2, 3), np.arange(1, 4), grad=False)
    on_both(lambda x: 2.0 ** x - x ** 2, rand((3,)))
    on_both(lambda x: x.float() * 1.5, np.arange(4), grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_comparisons_and_logic(dtype):
    a, b = rand((2, 3), dtype), rand((3,), dtype, seed=1)
    a[0, 0] = b[0]
    for op in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
        on_both(lambda x, y: getattr(x, op)(y), a, b, grad=False)
        on_both(lambda x: getattr(x, op)(0.25), a, grad=False)
    m = np.array([True, False, True])
    on_both(lambda x, y: (x & y) | ~x ^ (y | False), m, ~m, grad=False)
    on_both(lambda x: (x & 6) | ~x, np.arange(4), grad=False)
    on_both(lambda x: (x > 0).any(), a, grad=False)
    on_both(lambda x: (x > -5).all(), a, grad=False)
    on_both(lambda x: x.masked_fill(x > 0, 0.5), a)


def test_where():
    a, b = rand((2, 3)), rand((2, 3), seed=1)
    on_both(lambda x, y: sorix.where(x > y, x, y), a, b)
    on_both(lambda x: sorix.where(x > 0, x, 0.0), a)


# ---- reductions, matmul, softmax ---------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions(dtype):
    a = rand((2, 3, 4), dtype)
    a[0, 1, 2] = a[0, 1, 3]  # a tie: the max gradient is shared
    for axis in (None, 1, (0, 2), -1):
        for keep in (False, True):
            on_both(lambda x: x.sum(axis=axis, keepdims=keep), a)
            on_both(lambda x: x.mean(axis=axis, keepdims=keep), a)
            on_both(lambda x: x.max(axis=axis, keepdims=keep), a)
    on_both(lambda x: x.min(dim=0), a)
    on_both(lambda x: x.var(dim=1), a)
    on_both(lambda x: x.std(), a)
    for axis in (None, 0, 2):
        on_both(lambda x: x.argmax(axis=axis), a, grad=False)
        on_both(lambda x: x.argmin(axis=axis, keepdims=True), a, grad=False)
    on_both(lambda x: sorix.argmax(x), rand((3, 4), dtype), grad=False)  # Sorix's defaults
    on_both(lambda x: x.sum(), np.arange(6).reshape(2, 3), grad=False)  # ints sum as int64


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul(dtype):
    for sa, sb in [((3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
                   ((2, 3, 4), (2, 4, 2)), ((1, 3, 4), (2, 4, 2))]:
        on_both(lambda x, y: x @ y, rand(sa, dtype), rand(sb, dtype, seed=1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_log_softmax(dtype):
    a = rand((2, 3, 4), dtype, -4.0, 4.0)
    for axis in (-1, 0, 1):
        on_both(lambda x: x.softmax(axis), a)
        on_both(lambda x: x.log_softmax(dim=axis), a)


# ---- shapes and indexing ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_shape_ops(dtype):
    a = rand((2, 3, 4), dtype)
    for fn in (lambda x: x.reshape(6, 4), lambda x: x.view(-1), lambda x: x.transpose(0, 2),
               lambda x: x.T, lambda x: x.permute(1, 0, 2), lambda x: x.flatten(1),
               lambda x: x.unsqueeze(1).squeeze(), lambda x: x[:, :1].expand(2, 3, 4),
               lambda x: x.repeat(1, 2, 1), lambda x: x.contiguous(),
               lambda x: sorix.cat([x, x * 2], dim=1), lambda x: sorix.stack([x, -x], dim=3),
               lambda x: x.split(2, dim=2)[1], lambda x: x.chunk(3, dim=1)[2],
               lambda x: sorix.stack(x.unbind(1), 0)):
        on_both(fn, a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_indexing_and_repeated_index_backward(dtype):
    a = rand((4, 3), dtype)
    for index in (1, (slice(1, 3), 2), (Ellipsis, None, 0), [0, 2, 0, 0], np.array([3, 3, 1]),
                  (np.array([0, 0, 1]), np.array([2, 2, 2])), np.array([True, False, True, True])):
        on_both(lambda x: x[index], a)
    idx = np.array([[1], [1], [3]])
    on_both(lambda x: x[sorix.tensor(idx, device=x.device)], a)  # an index tensor
    on_both(lambda x: sorix.gather(x, 1, sorix.tensor([[0, 0], [2, 1], [1, 1], [0, 2]])), a)
    on_both(lambda x: sorix.diag(x[:3]), a)


def test_in_place_writes():
    a = rand((3, 4))
    results = []
    for device in ("cpu", "cuda"):
        t = sorix.tensor(a, device=device)
        t[0] = 1.5
        t[1, 1:3] = sorix.tensor([7.0, 8.0], device=device)
        t[[2, 2], [0, 3]] = -1.0
        t[:, 0] = 0.25
        t.add_(1).mul_(2).sub_(sorix.ones(4, device=device), alpha=0.5).div_(4)
        t.clamp_(min=0.0, max=1.5)
        results.append(t)
    assert_same(*results)
    x = sorix.tensor([1, 2], device="cuda")
    with pytest.raises(RuntimeError, match="in-place div"):
        x.div_(2)
    w = sorix.tensor([1.0], device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w.add_(1)
    with sorix.no_grad():
        w.add_(1).fill_(3.0)
    assert w.item() == 3.0
    c = sorix.zeros(2, device="cuda")
    c.copy_(sorix.tensor([4.0, 5.0]))  # copy_ crosses devices
    np.testing.assert_array_equal(host(c), [4.0, 5.0])


def test_reshape_views_share_the_version_counter():
    x = sorix.tensor(rand((2, 3)), device="cuda")
    v = x.reshape(6)
    with sorix.no_grad():
        v.add_(1.0)
    assert x._version is v._version
    np.testing.assert_allclose(host(x).reshape(-1), host(v))


def test_second_order_gradients():
    a = rand((3,))
    for device in ("cpu", "cuda"):
        x = sorix.tensor(a, device=device, requires_grad=True)
        (g,) = sorix.grad((x.tanh() * x).sum(), x, create_graph=True)
        g.sum().backward()
        if device == "cpu":
            expected = (g, x.grad)
    assert_same(expected[0], g, "first derivative")
    assert_same(expected[1], x.grad, "second derivative")


def test_simulated_arrays_refuse_what_a_gpu_array_lacks():
    if cuda_setup.WANT_GPU:
        pytest.skip("checks the simulator's stand-in")
    d = sorix.tensor([1.0, 2.0], device="cuda").data
    for misuse in (lambda: d + 1, lambda: d.sum(), lambda: d.astype(np.float64),
                   lambda: np.asarray(d), lambda: d < 1):
        with pytest.raises((TypeError, AttributeError)):
            misuse()


def test_gradients_accumulate_and_retain():
    a = rand((2, 3))
    results = {}
    for device in ("cpu", "cuda"):
        x = sorix.tensor(a, device=device, requires_grad=True)
        hidden = x * x
        hidden.retain_grad()
        hidden.sum().backward()
        (x * 3.0).sum().backward()  # accumulates into x.grad
        (g,) = sorix.grad((x ** 3).sum(), x)  # leaves .grad alone
        optimizer = sorix.optim.SGD([x], lr=0.1)
        results[device] = (x.grad * 1.0, hidden.grad, g)
        optimizer.zero_grad(set_to_none=False)
        assert host(x.grad).tolist() == np.zeros((2, 3)).tolist()
    for name, p, q in zip(("accumulated", "retained", "grad()"), results["cpu"],
                          results["cuda"]):
        assert_same(p, q, name)
