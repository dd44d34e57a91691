"""The build step that pyproject.toml cannot declare: the package carries what the portal reads.

The project's metadata is in pyproject.toml; this file only replaces ``build_py`` so that every
wheel (``pip install .``, ``python -m build``, ``uv build``, a wheel built from the sdist):

* holds the compiled catalogues: each ``portal/translations/LANG/LC_MESSAGES/messages.po`` is
  compiled (fuzzy entries included, as ``make translations`` does) to its ``.mo`` beside it;
* holds the migrations: the repository's top-level ``migrations/`` is copied into the package as
  ``portal/migrations/``, where ``create_app`` looks when the portal runs installed.

An editable install (``pip install -e .``) compiles the catalogues in place instead, as
``make translations`` does, and copies no migrations: a checkout runs the repository's own.
The sdist carries the ``.po`` files (package data) and ``migrations/`` (MANIFEST.in), so a wheel
built from it gets the same. Babel is a build requirement ([build-system] in pyproject.toml).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

HERE = Path(__file__).resolve().parent
CATALOGUES = Path("portal", "translations")
MIGRATIONS = Path("migrations")
PACKAGED_MIGRATIONS = Path("portal", "migrations")


def catalogue_sources() -> list[Path]:
    """The .po files, relative to the project directory."""
    return sorted(p.relative_to(HERE) for p in (HERE / CATALOGUES).glob("*/LC_MESSAGES/*.po"))


def migration_sources() -> list[Path]:
    """The files of migrations/ that the package carries, relative to the project directory."""
    return sorted(p.relative_to(HERE) for p in (HERE / MIGRATIONS).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))


def compile_catalogue(source: Path, target: Path) -> None:
    """Compile one .po file to ``target``; a catalogue with errors stops the build, naming them."""
    with source.open("rb") as fh:
        catalog = read_po(fh, locale=source.parent.parent.name)
    errors = [f"{source}:{message.lineno}: {error}"
              for message, found in catalog.check() for error in found]
    if errors:
        raise SetupError("the catalogue has errors:\n" + "\n".join(errors))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        write_mo(fh, catalog, use_fuzzy=True)


class BuildPyWithCatalogues(build_py):
    """``build_py`` plus the compiled catalogues and the packaged migrations."""

    def _generated(self) -> dict[str, Path]:
        """Each file this step writes → the source it is made from."""
        out = Path(self.build_lib)
        if self.editable_mode:
            return {str(HERE / po.with_suffix(".mo")): HERE / po for po in catalogue_sources()}
        mapping = {str(out / po.with_suffix(".mo")): HERE / po for po in catalogue_sources()}
        mapping.update({str(out / PACKAGED_MIGRATIONS / path.relative_to(MIGRATIONS)): HERE / path
                        for path in migration_sources()})
        return mapping

    def run(self) -> None:
        super().run()
        for target, source in self._generated().items():
            if source.suffix == ".po":
                self.announce(f"compiling {source.relative_to(HERE)} -> {target}", level=2)
                compile_catalogue(source, Path(target))
            else:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)

    def get_outputs(self, include_bytecode=1) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        return outputs + [path for path in self._generated() if path not in outputs]

    def get_output_mapping(self) -> dict[str, str]:
        mapping = super().get_output_mapping()
        mapping.update({target: str(source) for target, source in self._generated().items()})
        return mapping


setup(cmdclass={"build_py": BuildPyWithCatalogues})
