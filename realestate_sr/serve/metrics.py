"""The service's Prometheus metrics, in a registry of their own (one per app, so several apps in one process,
as in the tests, keep separate counts).

- ``realestate_sr_requests_total{outcome}``: finished /v1/enhance requests, outcome ``ok`` or the failure reason;
- ``realestate_sr_failures_total{reason}``: the failed ones alone, by reason (``uploads`` module table, plus
  ``queue_full``, ``timeout``, ``enhance_failed``, ``encode_failed``);
- ``realestate_sr_request_seconds``: latency of /v1/enhance from the first byte read to the encoded answer;
- ``realestate_sr_stage_seconds{stage}``: decode, queue (waiting for the device), compute, encode;
- ``realestate_sr_batch_photos``: photos per group (one forward pass of several requests);
- ``realestate_sr_network_batch``: images or tiles per network call;
- ``realestate_sr_queue_depth``: photos waiting for the device now; ``realestate_sr_in_flight``: requests open.
"""
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

disable_created_metrics()  # the *_created samples (a timestamp per series) double the page and help no dashboard

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120)
SIZE_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


class ServiceMetrics:
    """Counters, histograms and gauges of one app; ``render()`` is the /metrics body."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth=lambda: 0):
        self.registry = CollectorRegistry(auto_describe=True)
        options = dict(namespace='realestate_sr', registry=self.registry)
        self.requests = Counter('requests', 'Finished enhance requests by outcome (ok or the failure reason)',
                                ['outcome'], **options)
        self.failures = Counter('failures', 'Failed enhance requests by reason', ['reason'], **options)
        self.latency = Histogram('request_seconds', 'Enhance request latency', buckets=LATENCY_BUCKETS, **options)
        self.stages = Histogram('stage_seconds', 'Time per stage of an enhance request', ['stage'],
                                buckets=LATENCY_BUCKETS, **options)
        self.batch_photos = Histogram('batch_photos', 'Photos per group sharing network calls',
                                      buckets=SIZE_BUCKETS, **options)
        self.network_batch = Histogram('network_batch', 'Images or tiles per network call', buckets=SIZE_BUCKETS,
                                       **options)
        self.queue_depth = Gauge('queue_depth', 'Photos waiting for the device', **options)
        self.queue_depth.set_function(queue_depth)
        self.in_flight = Gauge('in_flight', 'Enhance requests being handled', **options)

    def finished(self, outcome, seconds=None):
        self.requests.labels(outcome).inc()
        if outcome != 'ok':
            self.failures.labels(outcome).inc()
        if seconds is not None:
            self.latency.observe(seconds)

    def render(self):
        return generate_latest(self.registry)
