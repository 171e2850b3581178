"""VideoResNet builders: torchvision parity (strict state_dict load, equal outputs), parameter counts, small models."""
import pytest
import torch
import torchvision.models.video as tv

from course.models import (BasicBlock, BasicStem, Bottleneck, Conv2Plus1D, Conv3DNoTemporal, Conv3DSimple,
                           R2Plus1dStem, VideoResNet, count_parameters, mc3_18, mc3_small, midplanes, r2plus1d_18,
                           r2plus1d_small, r3d_18, r3d_small)

PARAMS = {"r3d_18": 33_371_472, "mc3_18": 11_695_440, "r2plus1d_18": 31_505_325}
BUILDERS = {"r3d_18": r3d_18, "mc3_18": mc3_18, "r2plus1d_18": r2plus1d_18}


def _randomise_batchnorm(model, generator):
    """Non-trivial BN statistics, so parity covers eval-mode normalisation, not just identity BNs."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=generator) * 0.1)


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_torchvision_parity(arch):
    torch.manual_seed(0)
    reference = getattr(tv, arch)().eval()      # random weights, built locally: no download
    _randomise_batchnorm(reference, torch.Generator().manual_seed(1))
    model = BUILDERS[arch]().eval()
    assert count_parameters(model) == PARAMS[arch] == count_parameters(reference)
    model.load_state_dict(reference.state_dict(), strict=True)
    clip = torch.randn(2, 3, 4, 48, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = reference(clip), model(clip)
    assert got.shape == (2, 400)
    assert expected.abs().max() > 0.1                  # a meaningful comparison, not two near-zero tensors
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_same_state_dict_keys_and_shapes_as_torchvision():
    for arch, builder in BUILDERS.items():
        ours = {k: v.shape for k, v in builder().state_dict().items()}
        theirs = {k: v.shape for k, v in getattr(tv, arch)().state_dict().items()}
        assert ours == theirs, arch


def test_midplanes_formula_balances_parameters():
    assert midplanes(64, 64) == 64 * 64 * 27 // (64 * 9 + 3 * 64) == 144
    for cin, cout in [(64, 64), (64, 128), (128, 256), (16, 32)]:
        full = Conv3DSimple(cin, cout)
        factorised = Conv2Plus1D(cin, cout, midplanes(cin, cout))
        n_full = count_parameters(full)
        n_fact = sum(p.numel() for m in factorised if isinstance(m, torch.nn.Conv3d) for p in m.parameters())
        assert n_fact <= n_full and n_fact > 0.97 * n_full


def test_conv_builders_shapes_and_downsample_strides():
    x = torch.randn(1, 4, 8, 16, 16)
    assert Conv3DSimple(4, 6, stride=2)(x).shape == (1, 6, 4, 8, 8)
    assert Conv2Plus1D(4, 6, 5, stride=2)(x).shape == (1, 6, 4, 8, 8)
    assert Conv3DNoTemporal(4, 6, stride=2)(x).shape == (1, 6, 8, 8, 8)
    assert Conv3DSimple.downsample_stride(2) == (2, 2, 2) == Conv2Plus1D.downsample_stride(2)
    assert Conv3DNoTemporal.downsample_stride(2) == (1, 2, 2)
    assert BasicStem(3, 8)(torch.randn(1, 3, 4, 16, 16)).shape == (1, 8, 4, 8, 8)
    assert R2Plus1dStem(3, 8)(torch.randn(1, 3, 4, 16, 16)).shape == (1, 8, 4, 8, 8)


def test_bottleneck_network_runs_and_zero_init_makes_blocks_identity():
    model = VideoResNet(Bottleneck, [Conv3DSimple] * 4, [1, 1, 1, 1], BasicStem, 5, widths=(4, 8, 8, 8),
                        zero_init_residual=True).eval()
    assert model.fc.in_features == 32
    assert model(torch.randn(2, 3, 8, 32, 32)).shape == (2, 5)
    block = VideoResNet(BasicBlock, [Conv3DSimple] * 4, [2, 1, 1, 1], BasicStem, 5, widths=(4, 8, 8, 8),
                        zero_init_residual=True).layer1[1].eval()
    x = torch.rand(1, 4, 4, 8, 8)       # non-negative, as after a ReLU: the identity block returns it unchanged
    torch.testing.assert_close(block(x), x)


@pytest.mark.parametrize("builder", [r3d_small, mc3_small, r2plus1d_small])
def test_small_variants_shapes_and_gradients(builder):
    torch.manual_seed(0)
    model = builder(10)
    clip = torch.randn(2, 3, 16, 32, 32)
    out = model(clip)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert builder(4, in_channels=1, widths=(4, 8, 8, 16))(torch.randn(1, 1, 8, 32, 32)).shape == (1, 4)


def test_small_r2plus1d_has_no_more_parameters_than_small_r3d():
    assert count_parameters(r2plus1d_small(10)) <= count_parameters(r3d_small(10))
    assert count_parameters(mc3_small(10)) < count_parameters(r3d_small(10))


def test_bad_input():
    model = r3d_small(10)
    with pytest.raises(ValueError, match=r"expected 5 dims"):
        model(torch.randn(3, 16, 32, 32))
    with pytest.raises(ValueError, match="3 channels"):
        model(torch.randn(1, 1, 16, 32, 32))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(1, 3, 16, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"r3d_18\(num_classes\)"):
        r3d_18(0)
    with pytest.raises(ValueError, match=r"r2plus1d_small\(widths\)"):
        r2plus1d_small(10, widths=(8, 16))
    with pytest.raises(ValueError, match=r"VideoResNet\(block\)"):
        VideoResNet(torch.nn.Conv3d, [Conv3DSimple] * 4, [1] * 4, BasicStem)
    with pytest.raises(ValueError, match=r"VideoResNet\(conv_makers\)"):
        VideoResNet(BasicBlock, [Conv3DSimple] * 3, [1] * 4, BasicStem)
    with pytest.raises(ValueError, match=r"VideoResNet\(layers\)"):
        VideoResNet(BasicBlock, [Conv3DSimple] * 4, [1, 0, 1, 1], BasicStem)
    with pytest.raises(TypeError, match=r"VideoResNet\(stem\)"):
        VideoResNet(BasicBlock, [Conv3DSimple] * 4, [1] * 4, "basic")
    with pytest.raises(ValueError, match=r"midplanes\(in_planes\)"):
        midplanes(0, 4)
