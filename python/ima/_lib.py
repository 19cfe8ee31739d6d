"""Loading libima.so and declaring the C functions the package calls (ctypes, include/ima/api.h).

Where the library comes from, first match wins:
  1. the file named by the environment variable IMA_LIBRARY;
  2. a copy bundled inside the package (``pip install`` copies the build tree's libima.so.0);
  3. the source tree: ``<repo>/build/libima.so.0`` when the package runs from ``<repo>/python``;
  4. the system's search path (``libima.so.0`` installed by ``cmake --install``, ldconfig or
     LD_LIBRARY_PATH).
Every call through ctypes releases the GIL while C runs (ctypes.CDLL), so training and embedding
let other Python threads run.
"""
import ctypes
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_SONAME = "libima.so.0"


class Error(ValueError):
    """A libima error: bad input, a bad file, a bad configuration. The message is libima's."""


class OutOfMemory(Error, MemoryError):
    """libima could not allocate what the call needs (the process goes on)."""


def _candidates():
    env = os.environ.get("IMA_LIBRARY")
    if env:
        return [env]
    out = [os.path.join(_HERE, _SONAME)]
    source = os.path.dirname(_HERE)  # <repo>/python when the package runs from the source tree
    if os.path.isfile(os.path.join(source, "setup.py")):
        out.append(os.path.join(os.path.dirname(source), "build", _SONAME))
    return out + [_SONAME]


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "ima: cannot load libima: tried " + "; ".join(tried) +
        ". Build it (cmake --build build), install it (cmake --install build), or set IMA_LIBRARY "
        "to the path of libima.so.0 (see docs/python.md)")


lib, path = _load()

c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_double_p = ctypes.POINTER(ctypes.c_double)
c_char_pp = ctypes.POINTER(ctypes.c_char_p)

BATCH_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                            ctypes.c_size_t, ctypes.c_size_t)
EPOCH_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_double_p, ctypes.c_size_t)


class FitOptions(ctypes.Structure):
    """ima_api_fit_options (include/ima/api.h)."""
    _fields_ = [
        ("batch_size", ctypes.c_size_t),
        ("rounds", ctypes.c_int),
        ("epochs_stage1", ctypes.c_int),
        ("epochs_stage2", ctypes.c_int),
        ("lr_stage1", ctypes.c_double),
        ("lr_stage2", ctypes.c_double),
        ("checkpoint", ctypes.c_char_p),
        ("on_batch", BATCH_FN),
        ("on_epoch", EPOCH_FN),
        ("ctx", ctypes.c_void_p),
    ]


EPOCH_FIELDS = 8        # IMA_API_EPOCH_FIELDS
EPOCH_PER_MODALITY = 6  # IMA_API_EPOCH_PER_MODALITY
DETECTION_FIELDS = 16   # IMA_API_DETECTION_FIELDS

_VP = ctypes.c_void_p
_SIG = {
    "ima_last_error": (ctypes.c_char_p, []),
    "ima_clear_error": (None, []),
    "ima_api_version": (ctypes.c_char_p, []),
    "ima_api_string_free": (None, [_VP]),
    "ima_api_preset_json": (ctypes.c_int, [ctypes.POINTER(_VP), ctypes.c_char_p, ctypes.c_size_t]),
    "ima_api_model_new": (ctypes.c_int, [ctypes.POINTER(_VP), ctypes.c_char_p, ctypes.c_uint64]),
    "ima_api_model_load": (ctypes.c_int, [ctypes.POINTER(_VP), ctypes.c_char_p]),
    "ima_api_model_save": (ctypes.c_int, [_VP, ctypes.c_char_p]),
    "ima_api_model_free": (None, [_VP]),
    "ima_api_model_config_json": (ctypes.c_int, [_VP, ctypes.POINTER(_VP)]),
    "ima_api_model_train_json": (ctypes.c_int, [_VP, ctypes.POINTER(_VP)]),
    "ima_api_fit_defaults": (FitOptions, []),
    "ima_api_fit": (ctypes.c_int, [_VP, ctypes.POINTER(_VP), c_size_p, c_size_p, ctypes.POINTER(_VP),
                                   ctypes.c_int, ctypes.POINTER(FitOptions)]),
    "ima_api_embed": (ctypes.c_int, [_VP, ctypes.POINTER(_VP), c_size_p, c_size_p, ctypes.POINTER(_VP),
                                     ctypes.c_int, ctypes.c_size_t, ctypes.POINTER(_VP), ctypes.POINTER(_VP),
                                     _VP, _VP]),
    "ima_api_detection": (ctypes.c_int, [c_double_p, _VP, _VP, _VP, ctypes.c_size_t, ctypes.c_double]),
    "ima_precision_at_k": (ctypes.c_int, [c_double_p, c_size_p, c_size_p, _VP, _VP, _VP, _VP, c_size_p,
                                          ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t]),
    "ima_api_classify": (ctypes.c_int, [c_double_p, c_double_p, _VP, _VP, _VP, ctypes.c_size_t, _VP, _VP,
                                        ctypes.c_size_t, _VP, _VP, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                        ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_uint64]),
    "ima_api_set_threads": (None, [ctypes.c_int]),
    "ima_api_get_threads": (ctypes.c_int, []),
}
for _name, (_res, _args) in _SIG.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def last_error():
    return (lib.ima_last_error() or b"").decode("utf-8", "replace")


def check(rc):
    """Raises the libima error of a failed call (rc != 0)."""
    if rc != 0:
        msg = last_error() or "libima call failed (no message)"
        if "out of memory" in msg:
            raise OutOfMemory(msg)
        raise Error(msg)


def take_string(p):
    """Decodes and frees a malloc'd C string."""
    try:
        return ctypes.string_at(p.value).decode("utf-8")
    finally:
        lib.ima_api_string_free(p)
