"""Checks for chapter 17 (prediction and generation).

References: :class:`course.models.ConvLSTMCell` (the cell by hand, checked against ``torch.nn.LSTMCell`` where the two
coincide), :mod:`course.train.prediction` (the copy-last-frame baseline, per-horizon-step MSE, PSNR), and the GAN
losses of :mod:`course.models` / the chapter's GAN code (added below by the GAN part of the chapter).
"""
from __future__ import annotations

import math

import numpy as np

from .core import Case, CheckResult, check_function, compare, number_problem

# --------------------------------------------------------------------------------------------------------------------
# Next-frame prediction (ConvLSTM, baselines, per-horizon MSE, PSNR)
# --------------------------------------------------------------------------------------------------------------------


def _reference_convlstm_step(x, h, c, weight, bias):
    import torch
    import torch.nn.functional as F

    i, f, g, o = F.conv2d(torch.cat([x, h], dim=1), weight, bias, padding=weight.shape[-1] // 2).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _step_case(seed, n, c_in, hidden, size, k, name, hint=None, zero_state=False):
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c_in, size, size, generator=g)
    h = torch.zeros(n, hidden, size, size) if zero_state else torch.randn(n, hidden, size, size, generator=g)
    c = torch.zeros(n, hidden, size, size) if zero_state else torch.randn(n, hidden, size, size, generator=g)
    weight = torch.randn(4 * hidden, c_in + hidden, k, k, generator=g) * 0.5
    bias = torch.randn(4 * hidden, generator=g) * 0.5
    return Case((x, h, c, weight, bias), name=name, hint=hint)


def _compare_state(got, expected):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a pair (h, c), got {type(got).__name__}"
    for name, g, e in (("h", got[0], expected[0]), ("c", got[1], expected[1])):
        problem = compare(g, e, rtol=1e-4, atol=1e-5)
        if problem:
            return f"{name}: {problem}"
    return None


def convlstm_step(fn) -> CheckResult:
    """Check ``fn(x, h, c, weight, bias) -> (h, c)``: one ConvLSTM step with ``F.conv2d`` ("same" padding) over
    ``cat([x, h])`` and gates in PyTorch's order (i, f, g, o) — the same as :class:`course.models.ConvLSTMCell`."""
    cases = [
        _step_case(0, 2, 1, 3, 5, 1, "1x1 kernel, from a random state",
                   hint="split the 4*hidden channels as i, f, g, o (PyTorch's order) with .chunk(4, dim=1)"),
        _step_case(1, 1, 2, 2, 6, 3, "3x3 kernel: needs 'same' padding", hint="padding = kernel_size // 2"),
        _step_case(2, 3, 1, 4, 4, 3, "from a zero state", zero_state=True),
        _step_case(3, 2, 3, 2, 7, 5, "5x5 kernel, 3 input channels"),
    ]
    return check_function(fn, cases, title="convlstm_step", reference=_reference_convlstm_step,
                          compare_fn=_compare_state,
                          hint="c' = sigmoid(f) * c + sigmoid(i) * tanh(g); h' = sigmoid(o) * tanh(c')")


def _reference_copy_last(past, horizon):
    return past[:, :, -1:].expand(-1, -1, horizon, -1, -1).clone()


def copy_last_frame(fn) -> CheckResult:
    """Check ``fn(past, horizon)``: the last observed frame repeated, (N, C, T_in, H, W) -> (N, C, horizon, H, W)."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = [
        Case((torch.rand(2, 1, 5, 4, 4, generator=g), 3), name="2 clips, 5 frames seen, 3 to predict",
             hint="the LAST frame along the time axis (dim 2), past[:, :, -1]"),
        Case((torch.rand(1, 3, 4, 3, 5, generator=g), 6), name="3 channels, 6 to predict",
             hint="the result has `horizon` frames: repeat along dim 2"),
        Case((torch.rand(3, 1, 1, 2, 2, generator=g), 1), name="one frame seen, one to predict"),
    ]
    return check_function(fn, cases, title="copy_last_frame", reference=_reference_copy_last,
                          hint="past[:, :, -1:].expand(-1, -1, horizon, -1, -1) (or .repeat(1, 1, horizon, 1, 1))")


def _reference_per_horizon(predicted, target):
    return ((predicted.double() - target.double()) ** 2).mean(dim=(0, 1, 3, 4)).numpy()


def _compare_curve(got, expected):
    try:
        got = got.detach().cpu().numpy() if hasattr(got, "detach") else got
    except Exception:  # noqa: BLE001 — a learner's strange object
        return f"expected an array (T,), got {type(got).__name__}"
    return compare(got, expected, rtol=1e-5, atol=1e-8)


def per_horizon_mse(fn) -> CheckResult:
    """Check ``fn(predicted, target) -> (T,)``: the MSE at each predicted step, averaged over clips, channels and
    pixels, for clips (N, C, T, H, W)."""
    import torch

    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(3, 1, 4, 5, 5, generator=g), torch.rand(3, 1, 4, 5, 5, generator=g)
    growing = torch.zeros(2, 1, 3, 2, 2)
    ramp = growing.clone()
    ramp[:, :, 1] = 1.0
    ramp[:, :, 2] = 2.0
    cases = [
        Case((ramp, growing), name="errors 0, 1, 2 at steps 1, 2, 3 (MSE 0, 1, 4)",
             hint="square the differences, then average over every axis EXCEPT time (dim 2)"),
        Case((a, b), name="random clips, 4 steps"),
        Case((torch.rand(2, 3, 5, 3, 4, generator=g), torch.rand(2, 3, 5, 3, 4, generator=g)),
             name="3 channels, 5 steps", hint="average over the channels too: dims (0, 1, 3, 4)"),
    ]
    return check_function(fn, cases, title="per_horizon_mse", reference=_reference_per_horizon,
                          compare_fn=_compare_curve,
                          hint="((predicted - target) ** 2).mean(dim=(0, 1, 3, 4)) — one value per step")


def _reference_psnr(predicted, target, data_range=1.0):
    mse = float(((np.asarray(predicted, dtype=np.float64) - np.asarray(target, dtype=np.float64)) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


def _compare_db(got, expected):
    problem = number_problem(got, "the PSNR")
    if problem:
        return problem
    if math.isinf(expected):
        return None if math.isinf(float(got)) and float(got) > 0 else f"expected inf (identical images), got {got}"
    if not math.isclose(float(got), expected, rel_tol=1e-6, abs_tol=1e-6):
        return f"expected {expected:.4f} dB, got {float(got):.4f} dB"
    return None


def psnr(fn) -> CheckResult:
    """Check ``fn(predicted, target, data_range) -> float``: ``10 log10(data_range^2 / MSE)`` in dB (NumPy arrays)."""
    rng = np.random.default_rng(2)
    clean = rng.random((4, 8, 8))
    cases = [
        Case((np.full((2, 2), 0.1), np.zeros((2, 2)), 1.0), name="every pixel off by 0.1: MSE 0.01 -> 20 dB",
             hint="10 * log10(1 / 0.01) = 20: use the MSE, not its square root, with 10 * log10"),
        Case((clean + rng.normal(0, 0.05, clean.shape), clean, 1.0), name="Gaussian noise of std 0.05"),
        Case((np.full((3, 3), 25.5), np.zeros((3, 3)), 255.0), name="8-bit images: data_range 255",
             hint="the peak is data_range: 10 * log10(data_range ** 2 / mse)"),
        Case((clean, clean.copy(), 1.0), name="identical images: infinite PSNR",
             hint="MSE 0: return math.inf instead of dividing by zero"),
    ]
    return check_function(fn, cases, title="psnr", reference=_reference_psnr, compare_fn=_compare_db,
                          hint="mse = mean((predicted - target) ** 2); 10 * log10(data_range ** 2 / mse)")


# --------------------------------------------------------------------------------------------------------------------
# GANs: the discriminator's and the generator's losses, the Frechet distance
# --------------------------------------------------------------------------------------------------------------------

def _scalar_value(got, what: str):
    """(float value, None) for a Python number or a one-element tensor/array, else (None, what is wrong)."""
    if hasattr(got, "detach") and hasattr(got, "numel"):
        if got.numel() != 1:
            return None, f"{what} has shape {tuple(got.shape)}: expected one number (average over the batch)"
        return float(got.detach().reshape(-1)[0]), None
    problem = number_problem(got, what)
    return (None, problem) if problem else (float(got), None)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)


def _bce(logits, target: float):
    import torch
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(logits.detach().double(), torch.full_like(logits.detach().double(),
                                                                                         target))


def _d_loss_expected(real, fake, *, needs_grad: bool = False) -> dict:
    return {"right": float(_bce(real, 1.0) + _bce(fake, 0.0)), "articles": float(_bce(real, 1.0) - _bce(fake, 0.0)),
            "swapped": float(_bce(real, 0.0) + _bce(fake, 1.0)),
            "summed": float(_bce(real, 1.0) * len(real) + _bce(fake, 0.0) * len(fake)),
            "real_only": float(_bce(real, 1.0)), "needs_grad": needs_grad}


def _compare_d_loss(got, expected) -> str | None:
    value, problem = _scalar_value(got, "the loss")
    if problem:
        return problem
    if not math.isfinite(value):
        return (f"the loss is {value}: log of a probability that rounded to 0 — compute it from the logits with "
                "F.binary_cross_entropy_with_logits")
    if _close(value, expected["right"]):
        if expected["needs_grad"] and not getattr(got, "requires_grad", False):
            return ("the value is right, but it is not a tensor autograd can differentiate (did you call .item() or "
                    "go through NumPy?): the training step calls loss.backward()")
        return None
    if _close(value, expected["articles"]):
        return ("that is BCE(D(x), 1) - BCE(D(G(z)), 0), the articles' version: the minus sign makes the "
                "discriminator *maximise* its error on fakes, i.e. call them real. Add the two terms.")
    if _close(value, expected["swapped"]):
        return "the targets are swapped: real clips are labelled 1 and generated ones 0"
    if _close(value, expected["summed"]):
        return "that is the sum over the batch; take the mean of each term (the default reduction)"
    if _close(value, expected["real_only"]):
        return "only the real term: the discriminator must also learn to say 0 on generated samples"
    return f"expected {expected['right']:.6f}, got {value:.6f}"


def gan_discriminator_loss(fn) -> CheckResult:
    """Check ``fn(real_logits, fake_logits) -> scalar tensor``: BCE(D(x), 1) + BCE(D(G(z)), 0), each averaged over
    its batch, from the discriminator's logits (N,) — as :func:`course.train.gan.discriminator_loss`."""
    import torch

    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(6, generator=g), torch.randn(6, generator=g)
    confident = torch.tensor([4.0, 6.0]), torch.tensor([-5.0, -8.0, -3.0])
    fooled = torch.tensor([3.0, 2.0]), torch.tensor([-4.0, 120.0])
    grad_real = torch.randn(4, generator=g).requires_grad_(True)
    grad_fake = torch.randn(5, generator=g).requires_grad_(True)
    cases = [
        Case((torch.tensor([2.0]), torch.tensor([-1.0])), name="one real (logit 2) and one fake (logit -1)",
             expected=_d_loss_expected(torch.tensor([2.0]), torch.tensor([-1.0])),
             hint="-log sigmoid(2) - log(1 - sigmoid(-1))"),
        Case((real, fake), name="a batch of 6 and 6", expected=_d_loss_expected(real, fake)),
        Case((real[:2], fake), name="batches of different sizes (2 real, 6 fake)",
             expected=_d_loss_expected(real[:2], fake), hint="average each term over its own batch"),
        Case(confident, name="a confident, right discriminator: a loss near 0", expected=_d_loss_expected(*confident)),
        Case(fooled, name="a fake D calls real with logit 120: large (about 60) but finite",
             expected=_d_loss_expected(*fooled),
             hint="sigmoid(120) rounds to 1 and log(1 - 1) = -inf: use F.binary_cross_entropy_with_logits"),
        Case((grad_real, grad_fake), name="logits that require grad: the loss must be differentiable",
             expected=_d_loss_expected(grad_real, grad_fake, needs_grad=True)),
    ]
    return check_function(fn, cases, title="gan_discriminator_loss", compare_fn=_compare_d_loss,
                          hint="F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + "
                               "F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))")


def _g_loss_expected(fake) -> dict:
    return {"right": float(_bce(fake, 1.0)), "saturating": float(-_bce(fake, 0.0)),
            "sign": float(-_bce(fake, 1.0)), "summed": float(_bce(fake, 1.0) * len(fake))}


def _compare_g_loss(got, expected) -> str | None:
    value, problem = _scalar_value(got, "the loss")
    if problem:
        return problem
    if not math.isfinite(value):
        return (f"the loss is {value}: sigmoid of a very negative logit rounds to 0 and log(0) = -inf — compute "
                "-log D from the logits (F.binary_cross_entropy_with_logits with target 1, or F.softplus(-logits))")
    if _close(value, expected["right"]):
        return None
    if _close(value, expected["saturating"]):
        return ("that is log(1 - D(G(z))), the saturating loss of the minimax game: its gradient vanishes when D "
                "rejects the fakes. The non-saturating loss is -log D(G(z)).")
    if _close(value, expected["sign"]):
        return "the sign is flipped: the generator *minimises* -log D(G(z)) (it wants D(G(z)) near 1)"
    if _close(value, expected["summed"]):
        return "that is the sum over the batch; take the mean"
    return f"expected {expected['right']:.6f}, got {value:.6f}"


def gan_generator_loss(fn) -> CheckResult:
    """Check ``fn(fake_logits) -> scalar tensor``: the non-saturating generator loss -log D(G(z)) = BCE(D(G(z)), 1),
    averaged over the batch of logits (N,) — as :func:`course.train.gan.generator_loss`."""
    import torch

    g = torch.Generator().manual_seed(1)
    fake = torch.randn(8, generator=g)
    cases = [
        Case((torch.tensor([0.0]),), name="D unsure (logit 0): -log 0.5",
             expected=_g_loss_expected(torch.tensor([0.0])),
             hint="-log sigmoid(0) = log 2 = 0.693"),
        Case((fake,), name="a batch of 8 logits", expected=_g_loss_expected(fake)),
        Case((torch.tensor([-3.0, -6.0]),), name="fakes D rejects (logits -3, -6): a large loss",
             expected=_g_loss_expected(torch.tensor([-3.0, -6.0])),
             hint="the non-saturating loss is large here (about 4.5) — that is its point: a strong push"),
        Case((torch.tensor([-200.0, 5.0]),), name="a logit of -200: still finite (200.0 for that sample)",
             expected=_g_loss_expected(torch.tensor([-200.0, 5.0])),
             hint="sigmoid(-200) rounds to 0: work from the logits, e.g. F.softplus(-logits).mean()"),
    ]
    return check_function(fn, cases, title="gan_generator_loss", compare_fn=_compare_g_loss,
                          hint="F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))")


def _fd_parts(a, b, *, correction: int = 1):
    import torch

    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = (torch.cov(x.T, correction=correction).reshape(x.shape[1], x.shape[1]) for x in (a, b))
    w, v = torch.linalg.eigh(ca)
    root = (v * w.clamp(min=0).sqrt()) @ v.T
    m = root @ cb @ root
    cross = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    mean_term = float(((mu_a - mu_b) ** 2).sum())
    return mean_term, float(ca.trace() + cb.trace()), float(cross), float(torch.trace(ca @ cb))


def _fd_expected(a, b) -> dict:
    mean_term, traces, cross, product = _fd_parts(a, b)
    biased = _fd_parts(a, b, correction=0)
    return {"right": mean_term + traces - 2 * cross, "no_sqrt": mean_term + traces - 2 * product,
            "no_two": mean_term + traces - cross, "mean_only": mean_term,
            "biased": biased[0] + biased[1] - 2 * biased[2]}


def _compare_fd(got, expected) -> str | None:
    value, problem = _scalar_value(got, "the distance")
    if problem:
        return problem
    if not math.isfinite(value):
        return f"the distance is {value}: a NaN often comes from the square root of a tiny negative eigenvalue — " \
               "clip the eigenvalues at 0 before the square root"
    right = expected["right"]
    if math.isclose(value, right, rel_tol=1e-6, abs_tol=1e-6):
        return None
    for key, message in (
            ("no_sqrt", "you used Tr(cov_a @ cov_b); the formula has the trace of its matrix SQUARE ROOT, "
                        "Tr((cov_a^1/2 cov_b cov_a^1/2)^1/2)"),
            ("no_two", "the cross term is subtracted twice: - 2 Tr((cov_a^1/2 cov_b cov_a^1/2)^1/2)"),
            ("mean_only", "only the distance between the means: add the covariance term"),
            ("biased", "close, but with the biased covariance (divided by N); use torch.cov (divides by N - 1)")):
        if math.isclose(value, expected[key], rel_tol=1e-6, abs_tol=1e-6):
            return message
    return f"expected {right:.6f}, got {value:.6f}"


def frechet_distance(fn) -> CheckResult:
    """Check ``fn(features_a, features_b) -> float``: the Frechet distance between Gaussians fitted to two feature
    sets (N_a, F) and (N_b, F) (float64 tensors) — as :func:`course.train.gan.frechet_distance`."""
    import torch

    g = torch.Generator().manual_seed(2)
    a = torch.randn(50, 3, generator=g, dtype=torch.float64)
    b = torch.randn(40, 3, generator=g, dtype=torch.float64) @ torch.tensor(
        [[1.0, 0.5, 0.0], [0.0, 2.0, 0.3], [0.0, 0.0, 0.5]], dtype=torch.float64) + 1.0
    low_rank = torch.randn(30, 2, generator=g, dtype=torch.float64) @ torch.randn(2, 4, generator=g,
                                                                                   dtype=torch.float64)
    cases = [
        Case((a, a.clone()), name="identical sets: 0", expected=_fd_expected(a, a),
             hint="with cov_a = cov_b = C: Tr(C + C - 2 (C^1/2 C C^1/2)^1/2) = Tr(2C - 2C) = 0"),
        Case((a, a + torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64)), name="the same set shifted by (3, 4, 0): 25",
             expected=_fd_expected(a, a + torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64)),
             hint="same covariance, so only |mu_a - mu_b|^2 = 9 + 16 remains"),
        Case((a, b), name="different means and covariances", expected=_fd_expected(a, b)),
        Case((b, a), name="the same pair the other way round (the distance is symmetric)",
             expected=_fd_expected(b, a)),
        Case((low_rank, a[:30, :2] @ torch.ones(2, 4, dtype=torch.float64)),
             name="4 features of rank 2: singular covariances", expected=_fd_expected(
                 low_rank, a[:30, :2] @ torch.ones(2, 4, dtype=torch.float64)),
             hint="eigenvalues of a singular covariance can come out slightly negative: clamp(min=0) before sqrt"),
    ]
    return check_function(fn, cases, title="frechet_distance", compare_fn=_compare_fd,
                          hint="|mu_a - mu_b|^2 + Tr(cov_a) + Tr(cov_b) - 2 Tr((cov_a^1/2 cov_b cov_a^1/2)^1/2), "
                               "square roots of symmetric matrices from torch.linalg.eigh")
