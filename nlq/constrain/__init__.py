"""Constrained decoding: grammars narrowed to a catalog, and the llguidance decode loop.

* `nlq.constrain.grammar`: `ConstraintGrammar` (Lark text + validated llguidance spec);
* `nlq.constrain.narrow`: a dialect's grammar with its name rules replaced by the catalog's names;
* `nlq.constrain.decode`: the decode loop over a transformers model;
* `nlq.constrain.tokenizer`: cached llguidance tokenizers.
"""

from nlq.constrain.grammar import ConstraintGrammar, GrammarError

__all__ = ["ConstraintGrammar", "GrammarError"]
