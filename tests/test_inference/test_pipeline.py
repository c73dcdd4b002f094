"""The prefetch pipeline: decode and encode threads around the network, one failure per job."""
import threading

from realestate_sr.inference.pipeline import run_pipeline


def test_pipeline_isolates_failures_and_keeps_order():
    def decode(job):
        if job == 2:
            raise ValueError('bad file')
        return job * 10

    def compute(item):
        if item == 40:
            raise RuntimeError('out of memory')
        return item + 1

    outcomes = list(run_pipeline(range(6), decode, compute, lambda job, item, result: result))
    assert [(o.job, o.status, o.stage) for o in outcomes if o.status == 'failed'] == [(2, 'failed', 'decode'),
                                                                                    (4, 'failed', 'compute')]
    assert [o.value for o in outcomes if o.status == 'done'] == [1, 11, 31, 51]


def test_pipeline_decodes_ahead_while_computing_and_bounds_what_is_in_flight():
    jobs = range(8)
    decoded = {job: threading.Event() for job in jobs}
    lock, in_flight, peak, overlapped = threading.Lock(), [0], [0], []

    def decode(job):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        decoded[job].set()
        return job

    def compute(item):
        # the next photo decodes while this one computes (a sequential loop would wait out the timeout)
        overlapped.append(item == 7 or decoded[item + 1].wait(timeout=10))
        with lock:
            in_flight[0] -= 1
        return item

    outcomes = list(run_pipeline(jobs, decode, compute, lambda job, item, result: result, prefetch=2, workers=2))
    assert [o.value for o in outcomes] == list(jobs)
    assert all(overlapped)
    assert peak[0] <= 3  # the photo being computed plus at most ``prefetch`` decoded ahead
