"""setup.py: the `ima` package is pure Python (ctypes over libima.so.0). When a built libima is
found, a copy goes into the package, so the installed package needs no LD_LIBRARY_PATH:
  - the file named by $IMA_LIBRARY, else
  - ../build/libima.so.0 (the source tree's default CMake build folder).
With neither, nothing is bundled and the package loads the system's libima.so.0 (cmake --install
+ ldconfig). Offline on Debian 12: pip install ./python --no-build-isolation (see docs/python.md)."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def built_library():
    env = os.environ.get("IMA_LIBRARY")
    if env:
        if not os.path.isfile(env):
            raise SystemExit("setup.py: IMA_LIBRARY=%s: no such file" % env)
        return env
    tree = os.path.join(os.path.dirname(HERE), "build", "libima.so.0")
    return tree if os.path.isfile(tree) else None


class BuildPyBundling(build_py):
    def run(self):
        super().run()
        lib = built_library()
        target = os.path.join(self.build_lib, "ima", "libima.so.0")
        if lib:
            shutil.copyfile(os.path.realpath(lib), target)
            print("setup.py: bundled %s as ima/libima.so.0" % lib)
        else:
            if os.path.exists(target):  # a stale copy from an earlier in-tree build
                os.remove(target)
            print("setup.py: no built libima found: the package will load the system's libima.so.0")


setup(cmdclass={"build_py": BuildPyBundling})
