"""The help pages of calc, the arbitrary-precision calculator (Debian ``calc-common``), as a
math family of the labelled corpus (session 18, ninth sealed set).

calc's ``usr/share/calc/help`` holds one plain-text page per builtin, keyword or topic (``NAME``,
``SYNOPSIS``, ``TYPES``, ``DESCRIPTION``, ``EXAMPLE``, ``LIMITS``, ``LINK LIBRARY``, ``SEE
ALSO``). About a third of them document mathematics (elementary and number-theoretic functions,
rounding, matrices); the rest document the calculator as a programming language and a program
(files, strings, lists, errors, configuration, the changelog, the licence), which is software
documentation, not mathematics. Which pages are read is a fixed list, so the family does not
move when a page is reworded.
"""

from __future__ import annotations

import re

# The pages on mathematics, by what they document. Not read: the language and program pages
# (statements, operators, types, files, strings, lists, associations, blocks, errors, config,
# environment, history, usage), the type tests (``isint``, ``isreal``, ...), the bit-level
# operations (``bit``, ``highbit``, ``lowbit``, ``popcnt``, ``xor``), the display and epsilon
# settings, the random-number generators and their seeds, the project pages (changes, credits,
# bugs, wishlist, licences) and ``full``, all pages in one
CALC_MATH_PAGES = frozenset(
    # elementary functions
    "abs acos acosh acot acoth acsc acsch agd asec asech asin asinh atan atan2 atanh cos cosh"
    " cot coth csc csch exp gd hypot ln log ltol pi power root sec sech sin sinh sqrt tan tanh"
    # complex numbers
    " arg conj im norm polar re sgn"
    # rational arithmetic, rounding and approximation
    " appr bround btrunc ceil cfappr cfsim den digit digits floor frac ilog ilog10 ilog2 int"
    " inverse iroot isqrt mod near num places quo quomod round scale trunc"
    # number theory and combinatorics
    " bernoulli catalan comb euler fact factor fib frem gcd gcdrem hnrmod iseven isodd ismult"
    " isprime issq jacobi lcm lcmfact lfactor meq minv mmin mne nextcand nextprime perm pfact"
    " pix pmod prevcand prevprime ptest rcin rcmul rcout rcpow rcsq"
    # means and sums
    " avg hmean max min ssq sum"
    # matrices and polynomials
    " det mat matdim matfill matmax matmin matsum mattrace mattrans poly".split()
)

# every page ends in a run of ``##`` lines: its copyright, the LGPL notice, version-control
# dates and the project's address
_TRAILER = re.compile(r"(?:^##.*\n?)+\s*\Z", re.M)


def is_calc_math_page(rel: str) -> bool:
    """Whether a help page (its path under ``usr/share/calc/help``) documents mathematics."""
    return rel in CALC_MATH_PAGES


def strip_calc_trailer(page: str) -> str:
    """A help page without its closing ``##`` block (licence and bookkeeping), so that the
    family teaches no head that licence notices are mathematics."""
    return _TRAILER.sub("", page).rstrip()
