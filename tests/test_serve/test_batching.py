"""Dynamic batching: concurrent requests share network calls (batch-size metrics), a full queue answers 503 with
Retry-After, a request past its timeout 504, and batched answers equal unbatched ones."""
import time

import httpx
import numpy as np
import torch

from realestate_sr.inference.enhancer import Enhancer
from tests.test_serve.conftest import WHOLE, decoded, jpeg_bytes, metric_value, post_together


def batch_histogram(url):
    text = httpx.get(f'{url}/metrics').text
    name = 'realestate_sr_batch_photos'
    return (metric_value(text, f'{name}_count'), metric_value(text, f'{name}_sum'),
            metric_value(text, f'{name}_bucket', '{le="1.0"}'), text)


def test_concurrent_requests_are_grouped_and_match_unbatched_answers(serve, tiled_enhancer):
    bodies = [jpeg_bytes(40, 56, seed=seed) for seed in range(6)]
    with serve(tiled_enhancer, max_batch=3, max_wait_ms=1000) as url:
        grouped = post_together(url, bodies)
        groups, photos, singles, text = batch_histogram(url)
    assert all(r.status_code == 200 for r in grouped)
    assert photos == 6 and groups <= 3 and singles < groups  # 6 photos in at most 3 groups of up to 3
    assert max(int(r.headers['x-batch-photos']) for r in grouped) == 3
    # tiles of several photos shared calls: more tiles per call than one 40x56 photo has (2)
    calls = metric_value(text, 'realestate_sr_network_batch_count') - 1  # minus the warm-up call
    assert (metric_value(text, 'realestate_sr_network_batch_sum') - 1) / calls > 2
    with serve(tiled_enhancer, max_batch=1) as url:
        alone = post_together(url, bodies)
        groups, photos, singles, _ = batch_histogram(url)
    assert groups == photos == singles == 6  # batching off: one photo per group
    for together, single in zip(grouped, alone):
        difference = np.asarray(decoded(together.content), int) - np.asarray(decoded(single.content), int)
        assert np.abs(difference).max() <= 1


class SlowForTests(torch.nn.Module):
    """Takes ``seconds`` per network call, whatever the batch: stands for a busy device."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        time.sleep(self.seconds)
        return x * self.scale


def test_a_full_queue_answers_503_with_retry_after_and_the_rest_are_served(serve):
    enhancer = Enhancer.from_module(SlowForTests(0.4), WHOLE)
    with serve(enhancer, max_batch=1, queue_size=1) as url:
        responses = post_together(url, [jpeg_bytes(20, 30, seed=seed) for seed in range(6)])
        text = httpx.get(f'{url}/metrics').text
    statuses = sorted(r.status_code for r in responses)
    # one photo runs, one waits; the others find the queue full (a photo may free its place meanwhile)
    assert statuses.count(200) >= 2 and 503 in statuses
    for response in responses:
        if response.status_code == 503:
            assert response.json()['error'] == 'queue_full' and int(response.headers['retry-after']) >= 1
            assert response.json()['detail'].startswith('1 photo already waits for the device')
    assert metric_value(text, 'realestate_sr_failures_total', '{reason="queue_full"}') == statuses.count(503)


def test_a_request_past_its_timeout_is_504_and_leaves_its_group(serve):
    enhancer = Enhancer.from_module(SlowForTests(1.0), WHOLE)
    with serve(enhancer, max_batch=1, timeout_s=0.5) as url:
        first, second = post_together(url, [jpeg_bytes(20, 30), jpeg_bytes(20, 30, seed=1)])
        time.sleep(1.6)  # the running photo's call ends, and the waiting one would have run by now
        text = httpx.get(f'{url}/metrics').text
        assert httpx.get(f'{url}/healthz').status_code == 200
    assert first.status_code == second.status_code == 504
    assert first.json()['error'] == 'timeout'
    assert metric_value(text, 'realestate_sr_failures_total', '{reason="timeout"}') == 2
    # the photo that timed out while waiting was dropped from the queue: only the one already running ran
    assert metric_value(text, 'realestate_sr_batch_photos_count') == 1
