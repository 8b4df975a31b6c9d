"""Prompt building: system text per dialect, catalog slice, retrieved few-shot pairs."""

from nlq.prompting.catalog_slice import CatalogSlice, catalog_slice
from nlq.prompting.fewshot import Example, FewShotBank
from nlq.prompting.prompt import Attempted, Prompt, build_prompt
from nlq.prompting.retrieval import BM25, words

__all__ = ["BM25", "Attempted", "CatalogSlice", "Example", "FewShotBank", "Prompt", "build_prompt",
           "catalog_slice", "words"]
