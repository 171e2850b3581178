"""Video data: IO with PyAV, clip sampling, transforms, synthetic and real datasets, safe downloads (chapter 05)."""
from .synthetic import MOVING_SHAPES_CLASSES, MOVING_SHAPES_PAIRS, MovingDigits, MovingShapes, tensor_dataset  # noqa: E402,F401,E501
from .video_io import VideoInfo, VideoReadError, read_frames, read_video, video_info, write_video  # noqa: E402,F401
from .sampling import center_clip_indices, random_clip_indices, sample_indices, segment_indices, uniform_indices  # noqa: E402,F401,E501
from .transforms import KINETICS_MEAN, KINETICS_STD, ClipTransform, eval_transform, to_float_clip, to_uint8_frames, train_transform  # noqa: E402,F401,E501
from .folder import SkippedFile, VideoFolder  # noqa: E402,F401
from .real_datasets import HMDB51, KTH, UCF101, DatasetNotFoundError, parse_hmdb51_split, parse_ucf101_split  # noqa: E402,F401,E501
from .download import ChecksumError, DamagedArchiveError, IncompleteDownloadError, UnsafeArchiveError, UnsupportedArchiveError, download, extract_archive, sha256sum  # noqa: E402,F401,E501
from .motion import DEFAULT_MOTION_THRESHOLD, active_clip_fraction, clip_motion, motion_clip_indices, motion_energy, spread_clip_indices  # noqa: E402,F401,E501
from .shape_videos import shape_video_frames, write_shape_videos  # noqa: E402,F401
from .moving_mnist import load_moving_mnist  # noqa: E402,F401
