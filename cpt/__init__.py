"""The continued-pretraining study (issue 14, docs/CPT.md): does data chosen by Rosetta Neurons
train a better domain model than random data, a text classifier's or DSIR's?

An evaluation harness, not a product command: ``python -m cpt run configs/cpt.yaml`` (``make
cpt``) builds the pool, selects with every arm through the filtering pipeline, continues
pretraining per arm and seed, and writes ``results.json``; ``python -m cpt report`` draws it.
"""
