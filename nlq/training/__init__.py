"""Training data for nlq: question/query pairs generated from a catalog (issue #7).

See `nlq.training.pairs.generate_pairs`.
"""
