"""Video models: frame baselines, C3D, CNN-LSTM and friends (chapters 06–10)."""
