"""Pipelines: a retriever and rerankers composed with ``>>`` and ``%``, a content-addressed
score cache, and a per-stage, per-query cost ledger."""

from rerankit.compose import Chain, Stage
from rerankit.pipeline.core import Pipeline, PipelineEvaluation, PipelineResult
from rerankit.pipeline.ledger import Ledger
from rerankit.rerank.cache import ScoreCache

__all__ = ["Chain", "Ledger", "Pipeline", "PipelineEvaluation", "PipelineResult", "ScoreCache",
           "Stage"]
