"""Module semantics: discovery of parameters, buffers and children; state_dict round
trips; train/eval; containers; repr."""
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import sorix
import sorix.nn as nn


def t32(*shape, value=0.0):
    return sorix.tensor(np.full(shape, value, np.float32))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        self.norm = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.norm(self.net(x))


class Model(nn.Module):
    """Children in an attribute, a plain list, a plain dict and a nested list."""

    def __init__(self):
        super().__init__()
        self.block = Block()
        self.layers = [nn.Linear(3, 3), nn.Linear(3, 3)]
        self.heads = {"score": nn.Linear(3, 1), "extra": [nn.Linear(3, 2)]}
        self.scale = sorix.tensor(np.ones((1, 3), np.float32), requires_grad=True)
        self.constant = sorix.tensor([1.0])  # no grad: saved as state, as Sorix saves it
        self._cache = sorix.tensor([2.0])  # private: not state
        self.register_buffer("steps", sorix.tensor(np.zeros(1, np.int64)))

    def forward(self, x):
        x = self.block(x) * self.scale
        for layer in self.layers:
            x = layer(x).relu()
        return self.heads["score"](x)


EXPECTED_PARAMETERS = [
    "scale", "block.net.0.W", "block.net.0.b", "block.norm.gamma", "block.norm.beta",
    "layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b", "heads.score.W", "heads.score.b",
    "heads.extra.0.W", "heads.extra.0.b"]


def test_named_parameters_reach_attributes_lists_and_dicts():
    model = Model()
    names = [name for name, _ in model.named_parameters()]
    assert sorted(names) == sorted(EXPECTED_PARAMETERS)
    assert len(model.parameters()) == 13
    assert next(model.parameters()) is model.parameters()[0]  # Sorix's list, PyTorch's next()
    assert [n for n, _ in model.named_buffers()] == [
        "constant", "steps", "block.norm.running_mean", "block.norm.running_var"]
    assert sorted(model.state_dict()) == sorted(EXPECTED_PARAMETERS + [
        "constant", "steps", "block.norm.running_mean", "block.norm.running_var"])
    assert [n for n, _ in model.named_children()] == [
        "block", "layers.0", "layers.1", "heads.score", "heads.extra.0"]
    assert len(list(model.modules())) == 1 + 5 + 2 + 2  # model, Block tree, list, dict
    # a list grown after assignment is still seen
    model.layers.append(nn.Linear(3, 3))
    assert "layers.2.W" in dict(model.named_parameters())


def test_shared_parameters_are_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encode = nn.Linear(4, 4)
            self.decode = nn.Linear(4, 4)
            self.decode.W = self.encode.W
            self.again = [self.encode]

    model = Tied()
    params = model.parameters()
    assert len(params) == 3  # encode.W (= decode.W), encode.b, decode.b
    assert len({id(p) for p in params}) == 3
    assert "decode.W" in model.state_dict()  # every name is still saved, as in PyTorch


def test_frozen_parameter_stays_a_parameter_and_parameter_class():
    layer = nn.Linear(2, 2)
    layer.W.requires_grad = False
    assert [n for n, _ in layer.named_parameters()] == ["W", "b"]
    p = nn.Parameter(sorix.tensor([1.0, 2.0]))
    assert isinstance(p, sorix.Tensor) and p.requires_grad and p.dtype == sorix.float32
    holder = nn.Module()
    holder.p = p
    holder.plain = sorix.tensor([1.0])
    assert dict(holder.named_parameters()) == {"p": p}
    (p * 2).sum().backward()
    assert type(p.grad) is sorix.Tensor
    np.testing.assert_array_equal(p.grad.data, [2.0, 2.0])
    copy = pickle.loads(pickle.dumps(p))
    assert isinstance(copy, nn.Parameter) and copy.requires_grad


def test_subclass_that_skips_super_init_still_registers():
    class Careless(nn.Module):
        def __init__(self):  # no super().__init__(), as some Sorix code is written
            self.fc = nn.Linear(2, 2)

    model = Careless()
    assert list(model.state_dict()) == ["fc.W", "fc.b"] and model.training
    assert model.eval() is model and not model.fc.training


def test_non_persistent_buffer_is_not_saved():
    m = nn.Module()
    m.register_buffer("cache", t32(2), persistent=False)
    m.register_buffer("kept", t32(2))
    assert list(m.state_dict()) == ["kept"]
    assert [n for n, _ in m.named_buffers()] == ["cache", "kept"]


def test_load_state_dict_copies_in_place():
    source, target = Model(), Model()
    arrays = {k: v.data for k, v in target.state_dict(keep_vars=True).items()}
    for value in source.state_dict().values():
        if value.dtype.is_floating_point:
            value.data[...] = np.random.default_rng(0).standard_normal(value.shape)
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in target.state_dict(keep_vars=True).items():
        assert value.data is arrays[key], key  # same arrays: optimizers keep working
        np.testing.assert_array_equal(value.data, source.state_dict()[key].data)
    assert target.block.net[0].W.requires_grad
    # values from float64 arrays are cast into the float32 parameters
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"W": np.eye(2), "b": np.ones((1, 2))})
    assert layer.W.dtype == sorix.float32
    np.testing.assert_array_equal(layer.W.data, np.eye(2))


def test_strict_loading_names_missing_and_unexpected_keys():
    layer = nn.Linear(2, 3)
    before = layer.W.data.copy()
    state = {"W": np.ones((2, 3)), "bias": np.zeros(3)}
    with pytest.raises(RuntimeError) as info:
        layer.load_state_dict(state, strict=True)
    message = str(info.value)
    assert 'Missing key(s) in state_dict: "b"' in message
    assert 'Unexpected key(s) in state_dict: "bias"' in message
    np.testing.assert_array_equal(layer.W.data, before)  # nothing copied on error
    with pytest.warns(UserWarning, match="missing key.*: b; unexpected key.*: bias"):
        result = layer.load_state_dict(state)  # Sorix's default: skip them, but say so
    assert result == (["b"], ["bias"])
    assert result.missing_keys == ["b"] and result.unexpected_keys == ["bias"]
    np.testing.assert_array_equal(layer.W.data, np.ones((2, 3)))


def test_shape_mismatch_names_key_and_both_shapes():
    layer = nn.Linear(2, 3)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for W: .*shape \(3, 2\) from "
                                               r"checkpoint.*current model is \(2, 3\)"):
            layer.load_state_dict({"W": np.zeros((3, 2)), "b": np.zeros((1, 3))}, strict=strict)


def test_train_eval_reach_nested_containers():
    model = Model()
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert not model.heads["extra"][0].training and not model.block.norm.training
    assert model.train() is model
    assert all(m.training for m in model.modules())


def test_zero_grad_and_to():
    layer = nn.Linear(2, 2)
    layer(t32(3, 2, value=1.0)).sum().backward()
    grad = layer.W.grad
    layer.zero_grad(set_to_none=False)
    assert layer.W.grad is grad and not grad.data.any()
    layer.zero_grad()
    assert layer.W.grad is None and layer.b.grad is None
    assert layer.to("cpu") is layer
    if not sorix.cuda.is_available():  # (moving to a GPU: tests/test_cuda_training.py)
        with pytest.raises(RuntimeError, match="CUDA.*available"):
            layer.to("cuda")
        with pytest.raises(RuntimeError, match="CUDA.*available"):
            nn.Linear(2, 2, device="cuda")
        with pytest.raises(RuntimeError, match="CUDA.*available"):
            sorix.zeros(2, device="cuda")
    assert layer.double() is layer and layer.W.dtype == sorix.float64


def test_sequential_indexing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c and seq["1"] is b
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert list(seq.state_dict()) == ["0.W", "0.b", "2.W", "2.b"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    with pytest.raises(IndexError, match="out of range"):
        seq[7]
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert named.hidden is named["hidden"] is named[0]
    assert list(named.state_dict()) == ["hidden.W", "hidden.b"]
    x = np.ones((4, 2), np.float32)
    expected = np.maximum(x @ a.W.data + a.b.data, 0) @ c.W.data + c.b.data
    np.testing.assert_allclose(seq[:3](sorix.tensor(x)).data, expected, rtol=1e-6)
    with pytest.raises(TypeError, match="holds Modules"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_sequential_edits_keep_positions_as_pytorch_does():
    torch = pytest.importorskip("torch")

    def edit(lib):
        seq = lib.Sequential(lib.Linear(2, 3), lib.ReLU(), lib.Linear(3, 1))
        del seq[0]
        seq.append(lib.Tanh())  # must not replace the Linear now at position 1
        seq.insert(0, lib.Sigmoid())
        seq.insert(-1, lib.ReLU())
        seq.insert(-5, lib.Tanh())
        popped = seq.pop(2)
        del seq[3:5]
        return ([type(m).__name__ for m in seq], type(popped).__name__,
                [k.split(".")[0] for k in seq.state_dict()])

    assert edit(nn) == edit(torch.nn)
    assert edit(nn)[0] == ["Tanh", "Sigmoid", "Linear"]
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("act", nn.Tanh()),
                                       ("out", nn.Linear(2, 1))]))
    del named["act"]
    named.append(nn.ReLU())
    assert list(named._items) == ["hidden", "out", "2"] and named.out is named[1]
    with pytest.raises(TypeError, match="named"):
        named.insert(0, nn.ReLU())
    with pytest.raises(IndexError, match="out of range"):
        nn.Sequential(nn.ReLU()).insert(3, nn.ReLU())


def test_apply_visits_modules_in_pytorch_order():
    torch = pytest.importorskip("torch")

    def order(lib):
        model = lib.Sequential(OrderedDict([
            ("a", lib.Sequential(lib.Linear(2, 2), lib.Sequential(lib.Tanh(), lib.ReLU()))),
            ("b", lib.ReLU()), ("c", lib.Linear(2, 1))]))
        seen = []
        assert model.apply(lambda m: seen.append(type(m).__name__)) is model
        return seen

    assert order(nn) == order(torch.nn)
    assert order(nn)[:4] == ["Linear", "Tanh", "ReLU", "Sequential"]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.Linear(2, 3))
    layers.extend([nn.ReLU()])
    layers.insert(0, nn.Tanh())
    assert len(layers) == 5 and isinstance(layers[0], nn.Tanh) and isinstance(layers[-1], nn.ReLU)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    assert [type(m).__name__ for m in layers] == ["Tanh", "Linear", "Linear", "Linear", "ReLU"]

    class Owner(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = layers

    assert list(Owner().state_dict()) == [f"layers.{i}.{p}" for i in (1, 2, 3) for p in "Wb"]
    with pytest.raises(NotImplementedError):
        layers(t32(1, 2))


def test_repr_is_nested_like_pytorch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Dropout(0.1))
            self.heads = [nn.Linear(4, 1, bias=False)]
            self.loss = nn.CrossEntropyLoss(reduction="sum")

    assert repr(Net()) == (
        "Net(\n"
        "  (body): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Dropout(p=0.1)\n"
        "  )\n"
        "  (heads.0): Linear(in_features=4, out_features=1, bias=False)\n"
        "  (loss): CrossEntropyLoss(reduction='sum')\n"
        ")")
    assert repr(nn.BatchNorm1d(3)) == "BatchNorm1d(3, eps=1e-05, momentum=0.1)"


def test_forward_is_required_and_training_works_end_to_end():
    with pytest.raises(NotImplementedError, match="must implement forward"):
        nn.Module()(t32(1))
    sorix.random.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    x = sorix.tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32))
    y = sorix.tensor(np.array([[0], [1], [1], [0]], np.float32))
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(300):
        loss = loss_fn(model(x), y)
        model.zero_grad()
        loss.backward()
        with sorix.no_grad():
            for p in model.parameters():
                p.sub_(p.grad * 0.5)
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
