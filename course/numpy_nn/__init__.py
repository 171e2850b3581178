"""Reference NumPy ops, naive and fast side by side (Part I: chapters 01–03; conv3d and the LSTM cell: 07, 09)."""
