"""The enhancement service: an HTTP API with dynamic batching, metrics and a before/after page.

- ``app``: ``create_app(enhancer, ServeConfig)``, the FastAPI app (routes, timeouts, errors as JSON).
- ``batching``: ``Batcher``, concurrent requests grouped into shared network calls of one ``Enhancer``.
- ``uploads``: reading and checking what a client sent (size, type, megapixels) before decoding.
- ``metrics``: Prometheus counters and histograms of one app.
- ``page``: the HTML page at ``/``.

The CLI is ``scripts/serve.py``; docs/serving.md explains the choices.
"""
