"""rerankit: retrieval, reranking and trec_eval-exact evaluation."""
