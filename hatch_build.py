"""Build hook: compile the replay's hot modules with mypyc when a wheel or an editable install
is built (docs/decisions.md, "mypyc compiles the replay's hot modules").

The modules in COMPILED are plain, fully typed Python; mypyc turns each into a C extension that
runs the same code two to three times faster (docs/performance.md). The sources stay in the
package beside the extensions, with `_compiled.json` recording the sha256 of each source built,
so that `slaspec.native.guard` imports the sources instead once one of them is edited after an
editable install. When compiling is impossible (no C compiler, an unsupported interpreter) the
build warns and installs the interpreted package, which gives the same results more slowly;
SLASPEC_COMPILE=0 asks for that on purpose.

An editable install also writes the package's bytecode beside its sources, as pip does for the
files of an installed wheel: Python would write it on first import, unless told not to
(PYTHONDONTWRITEBYTECODE, usual in containers), and then compiles every module again at every
start (a tenth of a second before `slaspec replay` can start reading its log).
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

COMPILED = ("analysis", "calendar", "columnar", "columnar_parse", "replay", "results")
GROUP = "slaspec__mypyc"  # the shared library the compiled modules live in
STAMP = "_compiled.json"

_SETUP = """\
import sys
from mypyc.build import mypycify
from setuptools import setup

out, temp, *paths = sys.argv[1:]
setup(
    name="slaspec-compiled",
    ext_modules=mypycify(
        # The build environment has none of the runtime libraries: their values are Any here
        # (the code is type-checked with them, under mypy --strict, by the test suite).
        [*paths, "--config-file", temp + "/mypy.ini", "--ignore-missing-imports",
         "--cache-dir", temp + "/mypy-cache"],
        opt_level="3",
        group_name="slaspec",
        target_dir=temp + "/c",
    ),
    script_args=["--quiet", "build_ext", "--build-lib", out, "--build-temp", temp + "/o"],
)
"""


class CompileHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        source = root / "src"
        package = source / "slaspec"
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        if version == "editable":
            # What an earlier editable install compiled goes first: it would shadow the sources
            # of this one if this one compiles nothing. (A wheel never takes these files: they
            # are ignored by git, so by hatch, and its own are built apart.)
            for old in [*package.glob(f"*{suffix}"), *source.glob(f"{GROUP}*"), package / STAMP]:
                old.unlink(missing_ok=True)
            # Checked by the sources' times and sizes, so that an edited source is compiled
            # afresh when imported, as without this.
            compileall.compile_dir(
                package,
                quiet=1,
                force=True,
                invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
            )
        if os.environ.get("SLASPEC_COMPILE", "1") == "0":
            self.app.display_info("slaspec: SLASPEC_COMPILE=0, installing interpreted modules")
            return
        with tempfile.TemporaryDirectory() as temp:
            out = Path(temp) / "out"
            setup = Path(temp) / "setup.py"
            setup.write_text(_SETUP, encoding="utf-8")
            (Path(temp) / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
            paths = [f"slaspec/{name}.py" for name in COMPILED]
            # The sources as they are compiled (hashed before, not after, a minute of compiling).
            stamp = {
                "modules": {
                    name: hashlib.sha256((package / f"{name}.py").read_bytes()).hexdigest()
                    for name in COMPILED
                },
            }
            self.app.display_info(f"slaspec: compiling {', '.join(COMPILED)} with mypyc")
            try:
                done = subprocess.run(
                    [sys.executable, str(setup), str(out), temp, *paths],
                    cwd=source,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            except OSError as error:
                self._interpreted(str(error))
                return
            built = sorted(p for p in out.rglob(f"*{suffix}"))
            if done.returncode != 0 or len(built) != len(COMPILED) + 1:
                self._interpreted((done.stdout + done.stderr).strip()[-2000:])
                return
            stamp_text = json.dumps(stamp, indent=2, sort_keys=True) + "\n"
            if version == "editable":
                # The editable wheel puts src/ on sys.path: the extensions go beside the sources.
                for path in built:
                    shutil.copy2(path, source / path.relative_to(out))
                (package / STAMP).write_text(stamp_text, encoding="utf-8")
            else:
                # Kept until the wheel is written (`finalize`).
                self._kept = keep = Path(tempfile.mkdtemp(prefix="slaspec-compiled-"))
                shutil.copytree(out, keep, dirs_exist_ok=True)
                (keep / "slaspec" / STAMP).write_text(stamp_text, encoding="utf-8")
                for path in [*keep.rglob(f"*{suffix}"), keep / "slaspec" / STAMP]:
                    build_data["force_include"][str(path)] = path.relative_to(keep).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        kept = getattr(self, "_kept", None)
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)

    def _interpreted(self, why: str) -> None:
        self.app.display_warning(
            "slaspec: could not compile the replay with mypyc; installing the interpreted "
            f"modules (same results, slower replay):\n{why}"
        )
