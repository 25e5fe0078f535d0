"""Neural-network building blocks as forward/backward pairs of pure NumPy functions."""
