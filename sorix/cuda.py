"""``sorix.cuda``: whether a CUDA GPU can be used."""


def is_available():
    """False: this build of sorix runs on the CPU only."""
    return False


def device_count():
    return 0


def require():
    """Raise the error for asking for 'cuda' where no usable GPU is present."""
    raise RuntimeError("CUDA was requested but no usable CUDA GPU is available "
                       "(sorix.cuda.is_available() is False); use device='cpu'")
