"""Word and character n-gram tf-idf features: the fast, transparent baseline and half of the hybrid."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from ticketops.config import TfidfParams


def build_vectorizer(params: TfidfParams) -> FeatureUnion:
    """Word n-grams catch intent keywords; character n-grams survive typos and inflections."""
    return FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=tuple(params.word_ngrams), sublinear_tf=True, lowercase=True)),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=tuple(params.char_ngrams),
                    min_df=params.char_min_df,
                    sublinear_tf=True,
                    lowercase=True,
                ),
            ),
        ]
    )
