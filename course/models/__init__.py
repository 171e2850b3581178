"""Video models: frame baselines, C3D, CNN-LSTM and friends (chapters 06–10).

All models take clips (N, C, T, H, W) and return logits (N, num_classes). They are assembled from the small builders
in :mod:`course.models.blocks`; :mod:`course.models.summary` measures them (parameters, FLOPs, a per-stage table).
"""
from .blocks import FrameEncoder, conv_stack, conv_stage, encode_frames
from .c3d import C3D, C3D_WIDTHS, c3d_small
from .cnn_lstm import CNNLSTM, resnet18_trunk
from .frame_baselines import EarlyFusion, LateFusion, SingleFrameCNN, SlowFusion
from .pretrained import PretrainedError, available_pretrained, load_pretrained, pretrained_info
from .summary import count_flops, count_parameters, format_layer_table, layer_table
from .video_resnet import (BasicBlock, BasicStem, Bottleneck, Conv2Plus1D, Conv3DNoTemporal, Conv3DSimple, R2Plus1dStem,
                           VideoResNet, mc3_18, mc3_small, midplanes, r2plus1d_18, r2plus1d_small, r3d_18, r3d_small)
from .inflate import InflatedConv3d, InflatedResNet, inflate_batchnorm2d, inflate_conv2d, inflate_resnet, resnet2d_small
from .kinetics400 import KINETICS400_URLS, kinetics400_categories, kinetics400_path, load_kinetics400
from .transformer import MultiHeadSelfAttention, TubeletEmbedding, VideoTransformer, scaled_dot_product_attention
from .adapters import Adapter, FrozenBatchNorm, add_adapters, freeze_except, linear_probe
from .feature_fusion import MultiLevelFusion, video_resnet_trunk
from .nonlocal_block import NonLocalBlock, add_nonlocal
from .two_pathway import SlowFast, TwoStream, frame_differences

__all__ = [
    "C3D", "C3D_WIDTHS", "CNNLSTM", "EarlyFusion", "FrameEncoder", "LateFusion", "PretrainedError", "SingleFrameCNN",
    "SlowFusion", "available_pretrained", "c3d_small", "conv_stack", "conv_stage", "count_flops", "count_parameters",
    "encode_frames", "format_layer_table", "layer_table", "load_pretrained", "pretrained_info", "resnet18_trunk",
    "MultiHeadSelfAttention", "TubeletEmbedding", "VideoTransformer", "scaled_dot_product_attention",
    "Adapter", "FrozenBatchNorm", "MultiLevelFusion", "NonLocalBlock", "SlowFast", "TwoStream", "add_adapters",
    "add_nonlocal", "frame_differences", "freeze_except", "linear_probe", "video_resnet_trunk",
    "BasicBlock", "BasicStem", "Bottleneck", "Conv2Plus1D", "Conv3DNoTemporal", "Conv3DSimple", "R2Plus1dStem",
    "VideoResNet", "mc3_18", "mc3_small", "midplanes", "r2plus1d_18", "r2plus1d_small", "r3d_18", "r3d_small",
    "InflatedConv3d", "InflatedResNet", "inflate_batchnorm2d", "inflate_conv2d", "inflate_resnet", "resnet2d_small",
    "KINETICS400_URLS", "kinetics400_categories", "kinetics400_path", "load_kinetics400",
]
from .convlstm import ConvLSTM, ConvLSTMCell, ConvLSTMForecaster, copy_lstm_cell_weights  # noqa: E402
__all__ += ["ConvLSTM", "ConvLSTMCell", "ConvLSTMForecaster", "copy_lstm_cell_weights"]
from .denoise import VideoDenoiser  # noqa: E402
__all__ += ["VideoDenoiser"]
