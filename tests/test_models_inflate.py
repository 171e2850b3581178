"""I3D inflation (boring-video property, edge effect of zero padding, bad input) and the Kinetics-400 download path."""
import hashlib
import urllib.error

import pytest
import torch
import torchvision
import torchvision.models.video as tv
from torch import nn

import course.models.kinetics400 as k400
from course.models import (InflatedConv3d, PretrainedError, inflate_batchnorm2d, inflate_conv2d, inflate_resnet,
                           load_kinetics400, mc3_18, r3d_18, r3d_small, resnet2d_small)


def _randomise_batchnorm(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


def _boring(images, t):
    """(N, C, H, W) -> (N, C, T, H, W): the same image in every frame."""
    return images.unsqueeze(2).expand(-1, -1, t, -1, -1).contiguous()


@pytest.mark.parametrize("init", ["mean", "center"])
def test_inflate_conv2d_boring_video_every_frame(init):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=True)
    conv3d = inflate_conv2d(conv, 3, init=init)
    assert isinstance(conv3d, InflatedConv3d) and conv3d.weight.shape == (5, 3, 3, 3, 3)
    image = torch.randn(2, 3, 9, 9)
    out = conv3d(_boring(image, 6))
    assert out.shape == (2, 5, 6, 5, 5)
    for t in range(6):                                      # first and last frames included
        torch.testing.assert_close(out[:, :, t], conv(image), rtol=0, atol=1e-5)


def test_zero_time_padding_scales_the_edge_frames_by_two_thirds():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 4, 3, padding=1, bias=False)
    image = torch.randn(1, 2, 7, 7)
    out = inflate_conv2d(conv, 3, time_padding="zeros")(_boring(image, 5))
    torch.testing.assert_close(out[:, :, 2], conv(image), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[:, :, 0], conv(image) * 2 / 3, rtol=0, atol=1e-5)
    torch.testing.assert_close(out[:, :, -1], conv(image) * 2 / 3, rtol=0, atol=1e-5)


def test_center_init_puts_the_filter_in_the_middle_slice():
    conv = nn.Conv2d(1, 1, 3, bias=False)
    w = inflate_conv2d(conv, 5, init="center").weight
    torch.testing.assert_close(w[:, :, 2], conv.weight)
    assert w[:, :, [0, 1, 3, 4]].abs().sum() == 0


@pytest.mark.parametrize("make", [lambda: torchvision.models.resnet18(num_classes=7),
                                  lambda: resnet2d_small(6, widths=(8, 16, 16, 32), layers=(2, 1, 1, 1))])
def test_boring_video_inflated_resnet_equals_2d_logits(make):
    torch.manual_seed(0)
    resnet2d = _randomise_batchnorm(make())
    inflated = inflate_resnet(resnet2d).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        logits2d = resnet2d(images)
        logits3d = inflated(_boring(images, 8))
        per_frame = inflated.layer4(inflated.layer3(inflated.layer2(inflated.layer1(
            inflated.maxpool(inflated.relu(inflated.bn1(inflated.conv1(_boring(images, 8)))))))))
    assert logits2d.abs().max() > 0.1
    torch.testing.assert_close(logits3d, logits2d, rtol=0, atol=1e-4)
    # every frame's features (first and last included) are the 2D features
    features2d = resnet2d.layer4(resnet2d.layer3(resnet2d.layer2(resnet2d.layer1(
        resnet2d.maxpool(resnet2d.relu(resnet2d.bn1(resnet2d.conv1(images))))))))
    for t in (0, 3, 7):
        torch.testing.assert_close(per_frame[:, :, t], features2d.detach(), rtol=0, atol=1e-4)


def test_zero_padding_breaks_the_boring_video_property():
    torch.manual_seed(0)
    resnet2d = _randomise_batchnorm(resnet2d_small(5))
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        zeros = inflate_resnet(resnet2d, time_padding="zeros").eval()(_boring(images, 4))
        replicate = inflate_resnet(resnet2d).eval()(_boring(images, 4))
        logits2d = resnet2d(images)
    assert (zeros - logits2d).abs().max() > 1e-3
    torch.testing.assert_close(replicate, logits2d, rtol=0, atol=1e-4)


def test_inflate_resnet_structure_and_time_kernels():
    resnet2d = torchvision.models.resnet18()
    inflated = inflate_resnet(resnet2d, time_kernel=3)
    assert inflated.conv1.weight.shape == (64, 3, 3, 7, 7)
    assert inflated.layer1[0].conv1.weight.shape[2] == 3 and inflated.layer1[0].conv2.weight.shape[2] == 1
    assert inflated.layer2[0].downsample[0].weight.shape == (128, 64, 1, 1, 1)
    assert isinstance(inflated.bn1, nn.BatchNorm3d) and isinstance(inflated.maxpool, nn.MaxPool3d)
    assert set(inflated.state_dict()) == set(resnet2d.state_dict())
    assert isinstance(resnet2d.conv1, nn.Conv2d)                     # the 2D model is untouched
    out = inflated(torch.randn(1, 3, 4, 32, 32))
    assert out.shape == (1, 1000)
    bottleneck = inflate_resnet(torchvision.models.resnet50())
    assert bottleneck.layer1[0].conv1.weight.shape[2:] == (3, 1, 1)
    assert bottleneck.layer1[0].conv2.weight.shape[2:] == (1, 3, 3)


def test_inflate_batchnorm2d_copies_statistics():
    bn = _randomise_batchnorm(nn.Sequential(nn.BatchNorm2d(4)))[0]
    bn3d = inflate_batchnorm2d(bn)
    torch.testing.assert_close(bn3d.running_var, bn.running_var)
    torch.testing.assert_close(bn3d.weight, bn.weight)


def test_inflate_bad_input():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    with pytest.raises(TypeError, match=r"inflate_conv2d\(conv2d\)"):
        inflate_conv2d(nn.Conv1d(3, 4, 3), 3)
    with pytest.raises(ValueError, match=r"inflate_conv2d\(time_kernel\)"):
        inflate_conv2d(conv, 2)
    with pytest.raises(ValueError, match=r"inflate_conv2d\(init\)"):
        inflate_conv2d(conv, 3, init="random")
    with pytest.raises(ValueError, match=r"inflate_conv2d\(time_padding\)"):
        inflate_conv2d(conv, 3, time_padding="circular")
    with pytest.raises(ValueError, match=r"inflate_conv2d\(conv2d\)"):
        inflate_conv2d(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), 3)
    with pytest.raises(TypeError, match=r"inflate_resnet\(resnet2d\)"):
        inflate_resnet(nn.Linear(3, 4))
    with pytest.raises(ValueError, match=r"inflate_resnet\(time_kernel\)"):
        inflate_resnet(resnet2d_small(3), time_kernel=0)
    with pytest.raises(TypeError, match=r"inflate_batchnorm2d\(bn\)"):
        inflate_batchnorm2d(nn.BatchNorm1d(3))
    with pytest.raises(ValueError, match=r"resnet2d_small\(widths"):
        resnet2d_small(3, widths=(8, 16))
    inflated = inflate_resnet(resnet2d_small(3))
    with pytest.raises(ValueError, match="expected 5 dims"):
        inflated(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="expected 4 dims"):
        resnet2d_small(3)(torch.randn(1, 3, 2, 32, 32))


# ---------------------------------------------------------------------------------------------------------------------
# Kinetics-400 download path, served from a local file:// URL (no network)
# ---------------------------------------------------------------------------------------------------------------------

def _serve_local_checkpoint(tmp_path, monkeypatch, arch, reference):
    """Save ``reference``'s state_dict as torchvision names its files (<arch>-<sha256 prefix>.pth) at a file:// URL."""
    raw = tmp_path / "raw.pth"
    torch.save(reference.state_dict(), raw)
    prefix = hashlib.sha256(raw.read_bytes()).hexdigest()[:8]
    served = tmp_path / "server" / f"{arch}-{prefix}.pth"
    served.parent.mkdir()
    raw.rename(served)
    monkeypatch.setitem(k400.KINETICS400_URLS, arch, served.as_uri())
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))
    return served


def test_published_urls_come_from_torchvision():
    assert k400.KINETICS400_URLS["r3d_18"] == tv.R3D_18_Weights.KINETICS400_V1.url
    assert len(k400.kinetics400_categories()) == 400


def test_load_kinetics400_downloads_verifies_caches_and_loads(tmp_path, monkeypatch):
    torch.manual_seed(0)
    reference = tv.mc3_18().eval()
    _serve_local_checkpoint(tmp_path, monkeypatch, "mc3_18", reference)
    model = load_kinetics400(mc3_18(), "mc3_18", progress=False)
    cached = k400.kinetics400_path("mc3_18")
    assert cached.is_file() and cached.parent == tmp_path / "cache" / "weights"
    assert not [p for p in cached.parent.iterdir() if p != cached]        # no temporary files left behind
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), reference(clip), rtol=0, atol=1e-5)
    # second call: served from the cache, no fetch
    monkeypatch.setattr(k400, "_fetch", lambda *a, **k: pytest.fail("fetched although cached"))
    load_kinetics400(mc3_18(), "mc3_18", progress=False)


def test_load_kinetics400_rejects_a_corrupt_download(tmp_path, monkeypatch):
    served = _serve_local_checkpoint(tmp_path, monkeypatch, "mc3_18", tv.mc3_18())
    served.write_bytes(served.read_bytes()[:-10])            # truncated: the hash prefix in its name no longer fits
    with pytest.raises(PretrainedError, match="checksum"):
        load_kinetics400(mc3_18(), "mc3_18", progress=False)
    assert not list((tmp_path / "cache" / "weights").iterdir())


def test_load_kinetics400_offline_message(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    with pytest.raises(PretrainedError, match=r"could not download https://download\.pytorch\.org/.*internet.*copy it"):
        load_kinetics400(r3d_18(), "r3d_18", progress=False)


def test_load_kinetics400_bad_input():
    with pytest.raises(ValueError, match=r"load_kinetics400\(arch\)"):
        load_kinetics400(r3d_18(), "i3d")
    with pytest.raises(TypeError, match=r"load_kinetics400\(model\)"):
        load_kinetics400(nn.Linear(2, 2), "r3d_18")
    with pytest.raises(ValueError, match="400 classes"):
        load_kinetics400(r3d_small(10), "r3d_18")
