"""ima: the Importance-based Multimodal Autoencoder from Python, over the C library libima.

    import ima
    m = ima.Model({"image": 784, "speech": 696}, latent=50, preset="digits")
    m.fit({"image": x_img, "speech": x_sp}, epochs1=40, epochs2=10)
    e = m.embed({"speech": x_sp_test})      # e.u, e.y, e.z_weighted, e.z_unweighted
    m.save("digits.safetensors")            # the checkpoint `ima train` writes

See docs/python.md. Errors from libima raise ima.Error (a ValueError) with libima's message.
"""
from ._lib import Error, OutOfMemory
from ._lib import path as library_path
from .evaluate import classify, detection, precision_at_k
from .model import Embedding, Model, get_threads, set_threads

__version__ = "0.1.0"


def load(path):
    """Model.load: a checkpoint written by ``ima train`` or Model.save."""
    return Model.load(path)


def library_version():
    """The version of the libima the package loaded (see ima.library_path)."""
    from ._lib import lib
    return lib.ima_api_version().decode()


__all__ = ["Model", "Embedding", "Error", "OutOfMemory", "load", "precision_at_k", "detection", "classify", "set_threads",
           "get_threads", "library_path", "library_version"]
