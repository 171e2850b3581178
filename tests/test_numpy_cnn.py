"""course.numpy_nn.cnn: layer gradients, softmax cross-entropy and SGD with momentum against torch; digits training."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.numpy_nn import relative_error as rel_err
from course.numpy_nn import numerical_gradient
from course.numpy_nn.cnn import (Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, SGDMomentum, accuracy,
                                 load_digits_split, make_digits_cnn, softmax, softmax_cross_entropy, train)




def test_softmax_cross_entropy_matches_torch():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((7, 5)) * 3, rng.integers(0, 5, size=7)
    t = torch.from_numpy(logits).requires_grad_()
    loss_t = F.cross_entropy(t, torch.from_numpy(labels))
    loss_t.backward()
    loss, dlogits = softmax_cross_entropy(logits, labels)
    assert abs(loss - loss_t.item()) <= 1e-12 * abs(loss_t.item())
    assert rel_err(dlogits, t.grad.numpy()) <= 1e-10
    assert rel_err(softmax(logits), torch.softmax(t, 1).detach().numpy()) <= 1e-12


def test_softmax_is_stable_for_huge_scores():
    loss, grad = softmax_cross_entropy(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.array([0, 1]))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(2, 3, (3, 2), padding=1, rng=rng), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(3 * 3 * 3, 4, rng=rng))


def test_whole_model_backward_matches_numerical_gradient():
    rng = np.random.default_rng(1)
    model = small_model()
    x, y = rng.standard_normal((3, 2, 6, 5)), rng.integers(0, 4, size=3)

    def loss_of_logits(logits):
        return np.array(softmax_cross_entropy(logits, y)[0])

    logits = model.forward(x)
    _, dlogits = softmax_cross_entropy(logits, y)
    dx = model.backward(dlogits)
    one = np.array(1.0)
    assert rel_err(dx, numerical_gradient(lambda v: loss_of_logits(model.forward(v)), x, one)) <= 1e-6
    for layer, name in model.parameters():
        model.forward(x)
        model.backward(dlogits)
        analytic = layer.grads[name].copy()
        numeric = numerical_gradient(lambda _: loss_of_logits(model.forward(x)), layer.params[name], one)
        assert rel_err(analytic, numeric) <= 1e-6, f"{type(layer).__name__}.{name}"


def test_sgd_momentum_matches_torch():
    model = Sequential(Linear(3, 2, rng=np.random.default_rng(0)))
    layer = model.layers[0]
    w_t = torch.tensor(layer.params["w"], requires_grad=True)
    opt_t = torch.optim.SGD([w_t], lr=0.1, momentum=0.9, weight_decay=0.01)
    opt = SGDMomentum(model, lr=0.1, momentum=0.9, weight_decay=0.01)
    rng = np.random.default_rng(1)
    for _ in range(4):
        g = rng.standard_normal((3, 2))
        layer.grads["w"], layer.grads["b"] = g, np.zeros(2)
        w_t.grad = torch.from_numpy(g.copy())
        opt.step()
        opt_t.step()
    assert rel_err(layer.params["w"], w_t.detach().numpy()) <= 1e-12


def test_training_on_digits_beats_chance_by_far():
    x_tr, y_tr, x_te, y_te = load_digits_split()
    assert x_tr.shape[1:] == (1, 8, 8) and len(x_tr) + len(x_te) == 1797
    model = make_digits_cnn(8)
    before = accuracy(model, x_te, y_te)
    history = train(model, x_tr, y_tr, x_te, y_te, epochs=2, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["test_acc"][-1] >= 0.8 > before  # chance is 0.1


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match=r"softmax_cross_entropy\(labels\): expected values in \[0, 3\)"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy\(labels\): expected 2 integer labels"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"softmax_cross_entropy\(logits\)"):
        softmax_cross_entropy(np.zeros((2, 3), dtype=int), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"Conv2d\(out_channels\)"):
        Conv2d(1, 0, 3)
    with pytest.raises(ValueError, match=r"Linear\(in_features\)"):
        Linear(-1, 3)
    with pytest.raises(ValueError, match=r"SGDMomentum\(momentum\)"):
        SGDMomentum(small_model(), momentum=1.0)
    with pytest.raises(TypeError, match=r"Sequential"):
        Sequential(lambda v: v)
    with pytest.raises(ValueError, match=r"train\(epochs\)"):
        train(small_model(), np.zeros((2, 2, 6, 5)), np.zeros(2, int), None, None, epochs=0)
    with pytest.raises(ValueError, match=r"make_digits_cnn\(image_size\)"):
        make_digits_cnn(image_size=7)
